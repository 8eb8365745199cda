"""Review findings on what the clinician reads: the patient's own reason, each fact once, no raw
internal values (resource references, UCUM annotations)."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from cards import build_cards, wording
from service.evaluation.model import (
    CriterionResult,
    DenosumabAssessment,
    DenosumabState,
    PopulationReason,
    RomosozumabDecision,
    Status,
)
from tests.cards import builders as b
from tests.cards.invariants import by_topic, check_cards, topics


def build(hook: str, assessment):
    return check_cards(build_cards(hook, assessment, b.record(), b.KNOWLEDGE,
                                   patient_id=b.PATIENT_ID, new_uuid=b.counter_uuids()))


def not_indicated(reason: PopulationReason | None, *evidence, note: str | None = None,
                  very_high_risk: bool = True):
    population = CriterionResult("population.romosozumab",
                                 "Postmenopausal woman with osteoporosis", Status.NOT_MET,
                                 evidence, ("evenity-label",), note, reason)
    vhr = b.base().very_high_risk if very_high_risk else CriterionResult(
        "very-high-risk", "Very high fracture risk", Status.NOT_MET)
    return b.assessment(population=population, very_high_risk=vhr,
                        romosozumab_decision=RomosozumabDecision.NOT_INDICATED,
                        orders=(b.ROMOSOZUMAB_ORDER,))


NO_OSTEOPOROSIS_NOTE = "no osteoporosis diagnosis, fragility fracture or T-score <= -2.5"


@pytest.mark.parametrize(("reason", "evidence", "says"), [
    (PopulationReason.MALE, (b.ev("Sex: male"),), "the patient is a man"),
    (PopulationReason.PREMENOPAUSAL, (b.ev("Sex: female"), b.ev("Age", value="41 years")),
     "the patient is premenopausal"),
    (PopulationReason.NO_OSTEOPOROSIS, (b.ev("Sex: female"), b.ev("Age", value="73 years")),
     "no osteoporosis documented"),
])
def test_not_indicated_summary_states_the_patients_own_reason(reason, evidence, says):
    card = by_topic(build("order-sign", not_indicated(reason, *evidence)),
                    "romosozumab-not-indicated")
    assert says in card["summary"]
    assert len(card["summary"]) < 140


def test_woman_without_osteoporosis_is_not_told_the_label_is_for_women_only():
    """Synthea Tamatha: woman, 73, normal T-score, no diagnosis, no fragility fracture."""
    a = not_indicated(PopulationReason.NO_OSTEOPOROSIS, b.ev("Sex: female"),
                      b.ev("Age", value="73 years"), note=NO_OSTEOPOROSIS_NOTE,
                      very_high_risk=False)
    card = by_topic(build("order-select", a), "romosozumab-not-indicated")
    assert "postmenopausal women only" not in card["summary"]
    assert card["summary"] == ("Romosozumab not indicated: no osteoporosis documented (diagnosis, "
                               "fragility fracture or T-score <= -2.5)")


@pytest.mark.parametrize("reason", list(PopulationReason))
def test_every_population_reason_has_a_short_summary_and_a_why(reason):
    assert len(wording.S_NOT_INDICATED_BY_REASON[reason]) < 140
    assert wording.WHY_NOT_ROMOSOZUMAB[reason]


def test_other_agents_detail_gives_the_patients_own_reason():
    """Premenopausal woman at very high risk: not 'labelled for postmenopausal women' alone."""
    a = not_indicated(PopulationReason.PREMENOPAUSAL, b.ev("Sex: female"),
                      b.ev("Age", value="41 years"))
    card = by_topic(build("patient-view", a), "very-high-risk-other-agents")
    assert "(premenopausal; labelled for postmenopausal women)" in card["detail"]
    assert "a man" not in card["detail"]
    man = by_topic(build("patient-view", not_indicated(PopulationReason.MALE, b.ev("Sex: male"))),
                   "very-high-risk-other-agents")
    assert "(a man; labelled for postmenopausal women)" in man["detail"]


def test_unknown_calcium_is_said_once_in_exclusions_checked():
    hypo = CriterionResult("hypocalcemia", "Low calcium", Status.UNKNOWN,
                           note="no total serum calcium within 12 months: check calcium before "
                                "the first dose")
    card = by_topic(build("patient-view", b.assessment(hypocalcemia=hypo)),
                    "romosozumab-proposal")
    exclusions = card["detail"].split(wording.H_EXCLUSIONS)[1].split("\n\n")[0]
    assert exclusions.lower().count("check calcium before the first dose") == 1


def test_calcium_in_an_unknown_unit_is_shown_not_called_missing():
    note = "unit not recognised: cannot compare to a lower limit"
    hypo = CriterionResult("hypocalcemia", "Low calcium", Status.UNKNOWN,
                           (b.ev("Total serum calcium", "2026-05-20", value="2.3 mEq/L",
                                 note=note),), note=note)
    card = by_topic(build("patient-view", b.assessment(hypocalcemia=hypo)),
                    "romosozumab-proposal")
    exclusions = card["detail"].split(wording.H_EXCLUSIONS)[1].split("\n\n")[0]
    assert "No serum calcium in the past 12 months" not in exclusions
    assert "Total serum calcium: 2.3 mEq/L (2026-05-20)" in exclusions
    assert exclusions.count(note) == 1


def test_switch_card_names_the_draft_order_without_its_resource_reference():
    dmab = DenosumabAssessment(
        DenosumabState.CURRENT,
        last_dose=b.ev("Denosumab 60 mg, administered", "2026-03-01"),
        switch_orders=(b.TERIPARATIDE_ORDER.reference,), citations=("ects-2021",))
    a = b.assessment(denosumab=dmab, orders=(b.TERIPARATIDE_ORDER,),
                     romosozumab_decision=RomosozumabDecision.NOT_VERY_HIGH_RISK)
    cards = build("order-sign", a)
    assert topics(cards) == ["denosumab-switch"]
    assert "- Draft order: teriparatide" in cards[0]["detail"]
    assert "MedicationRequest/" not in cards[0]["detail"]


def current_denosumab(last: str, due: date, overdue_after: date) -> DenosumabAssessment:
    return DenosumabAssessment(DenosumabState.CURRENT,
                               last_dose=b.ev("Denosumab 60 mg, administered", last),
                               next_dose_due=due, overdue_after=overdue_after,
                               months_since_last_dose=6, citations=("ects-2021",))


def test_a_due_date_already_past_is_not_called_next():
    """as_of 2026-06-15, last dose 2025-12-10: due 2026-06-10, still current until 2026-07-08."""
    dmab = current_denosumab("2025-12-10", date(2026, 6, 10), date(2026, 7, 8))
    a = b.assessment(denosumab=dmab, romosozumab_decision=RomosozumabDecision.NOT_VERY_HIGH_RISK)
    card = by_topic(build("patient-view", a), "denosumab-next-dose")
    assert card["summary"] == ("Denosumab dose due since 2026-06-10: give it by 2026-07-08; do not "
                               "stop without follow-on therapy")
    assert "- Dose was due 2026-06-10" in card["detail"]
    assert "Next dose due" not in card["detail"]


def test_a_future_due_date_is_the_next_dose():
    dmab = current_denosumab("2026-01-15", date(2026, 7, 15), date(2026, 8, 12))
    a = b.assessment(denosumab=dmab, romosozumab_decision=RomosozumabDecision.NOT_VERY_HIGH_RISK)
    card = by_topic(build("patient-view", a), "denosumab-next-dose")
    assert card["summary"].startswith("Denosumab next dose due 2026-07-15")
    assert "- Next dose due 2026-07-15" in card["detail"]


def test_very_high_risk_without_osteoporosis_gets_no_other_agents_card():
    """AACE 2020's very-high-risk criteria and these agents are for osteoporosis: a woman of 80
    with a normal T-score, older age her only criterion, is not told to consider them."""
    a = not_indicated(PopulationReason.NO_OSTEOPOROSIS, b.ev("Sex: female"),
                      b.ev("Age", value="80 years"), note=NO_OSTEOPOROSIS_NOTE)
    with_osteoporosis = topics(build("patient-view", a))
    without = topics(build("patient-view", msgspec.structs.replace(a, osteoporosis=None)))
    assert "very-high-risk-other-agents" in with_osteoporosis
    assert "very-high-risk-other-agents" not in without


def test_not_indicated_without_osteoporosis_names_no_osteoporosis_agents():
    a = msgspec.structs.replace(
        not_indicated(PopulationReason.NO_OSTEOPOROSIS, b.ev("Sex: female"),
                      b.ev("Age", value="73 years"), note=NO_OSTEOPOROSIS_NOTE),
        osteoporosis=None)
    card = by_topic(build("order-select", a), "romosozumab-not-indicated")
    assert "Alternatives" not in card["detail"]
    man = not_indicated(PopulationReason.MALE, b.ev("Sex: male"))
    assert "Alternatives" in by_topic(build("order-select", man),
                                      "romosozumab-not-indicated")["detail"]
