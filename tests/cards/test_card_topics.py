"""One test group per card topic, on hand-built assessments (no evaluation needed)."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cards import build_cards, wording
from service.evaluation.model import (
    CardiovascularAssessment,
    CardiovascularVerdict,
    CriterionResult,
    DenosumabAssessment,
    DenosumabState,
    PopulationReason,
    RomosozumabCourse,
    RomosozumabDecision,
    SafetyGate,
    Status,
)
from tests.cards import builders as b
from tests.cards.invariants import actions, by_topic, check_cards, created_codes, topics

ROMO, DMAB, ZOL, ALN = "2123184", "993452", "705824", "904431"


def build(hook: str, assessment, **kwargs):
    return check_cards(build_cards(hook, assessment, b.record(), b.KNOWLEDGE,
                                   patient_id=b.PATIENT_ID, new_uuid=b.counter_uuids(), **kwargs))


# --- proposal -------------------------------------------------------------------------------
def test_proposal_on_patient_view_is_info_with_a_valid_order():
    card = by_topic(build("patient-view", b.assessment()), "romosozumab-proposal")
    assert card["indicator"] == "info"
    assert card["summary"] == "Very high fracture risk: consider romosozumab 210 mg monthly x 12"
    [create] = actions(card)
    order = create["resource"]
    MedicationRequest.model_validate(order)
    assert order["status"] == "draft"
    assert order["intent"] == "order"
    assert order["subject"] == {"reference": "Patient/pat-1"}
    coding = order["medicationCodeableConcept"]["coding"][0]
    assert (coding["code"], coding["display"]) == (
        ROMO, "1.17 ML romosozumab-aqqg 89.7 MG/ML Prefilled Syringe")
    dosage = order["dosageInstruction"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 210
    assert dosage["timing"]["repeat"]["count"] == 12
    assert "two separate 105 mg" in dosage["text"]
    assert order["dispenseRequest"]["numberOfRepeatsAllowed"] == 11
    assert "alendronate or zoledronate" in order["note"][0]["text"]


def test_proposal_detail_gives_evidence_exclusions_plan_and_sources():
    detail = by_topic(build("patient-view", b.assessment()), "romosozumab-proposal")["detail"]
    assert "Vertebral fracture (ICD-10-CM M80.08XA) (2026-02-10)" in detail
    assert "- T-score below -3.0\n  - Lumbar spine T-score: -3.2 (2026-03-01)" in detail
    assert "No myocardial infarction or stroke found" in detail
    assert "Calcium not low. Calcium: 9.4 mg/dL (2026-05-20)" in detail
    assert "12 monthly doses" in detail
    assert "calcium and vitamin D" in detail
    assert "Boxed warning" in detail
    assert "[AACE/ACE 2020 postmenopausal osteoporosis guideline](https://doi.org" in detail


def test_proposal_lists_other_cv_risk_factors_in_detail_not_as_a_card():
    cv = CardiovascularAssessment(CardiovascularVerdict.CAUTION, risk_factors=(
        b.ev("Type 2 diabetes (ICD-10-CM E11.9)", "2020-01-01"),
        b.ev("Hypertension (ICD-10-CM I10)", "2019-03-01")))
    cards = build("patient-view", b.assessment(cardiovascular=cv))
    assert topics(cards) == ["romosozumab-proposal"]
    assert "Type 2 diabetes (ICD-10-CM E11.9) (2020-01-01)" in cards[0]["detail"]
    assert "Other cardiovascular risk factors present" in cards[0]["detail"]


def test_proposal_with_prior_mi_comes_with_caution_card():
    cards = build("patient-view", b.assessment(cardiovascular=b.CV_CAUTION))
    assert sorted(topics(cards)) == ["romosozumab-cv-caution", "romosozumab-proposal"]
    caution = by_topic(cards, "romosozumab-cv-caution")
    assert caution["indicator"] == "warning"
    assert "2025-05-15" in caution["summary"]
    assert "2025-05-15" in caution["detail"]


def test_order_select_of_weaker_agent_offers_replacement_that_deletes_the_draft():
    a = b.assessment(orders=(b.ALENDRONATE_ORDER,))
    card = by_topic(build("order-select", a), "romosozumab-proposal")
    assert card["indicator"] == "warning"
    assert "instead of alendronate" in card["summary"]
    plain, replace = card["suggestions"]
    assert [x["type"] for x in plain["actions"]] == ["create"]
    assert [x["type"] for x in replace["actions"]] == ["delete", "create"]
    assert replace["actions"][0]["resourceId"] == "MedicationRequest/draft-aln"
    # the same order in both suggestions, each its own copy (prune copies: nothing done later
    # to one suggestion's order reaches the other's)
    ordered, replacing = plain["actions"][0]["resource"], replace["actions"][1]["resource"]
    assert ordered == replacing
    assert ordered is not replacing
    assert ordered["dosageInstruction"] is not replacing["dosageInstruction"]


def test_order_select_ignores_unselected_weaker_agent():
    unselected = msgspec.structs.replace(b.ALENDRONATE_ORDER, selected=False)
    assert build("order-select", b.assessment(orders=(unselected,))) == []


def test_order_sign_never_proposes():
    assert build("order-sign", b.assessment(orders=(b.ALENDRONATE_ORDER,))) == []


def test_proposal_plan_names_only_follow_on_agents_the_gates_allow():
    card = by_topic(build("patient-view", b.assessment(safety_gates=b.renal_blocked())),
                    "romosozumab-proposal")
    assert "antiresorptive (denosumab)" in card["detail"]
    assert "zoledronate: not offered (eGFR: 25 mL/min/1.73m2 (2026-05-01))" in card["detail"]
    assert "alendronate or zoledronate" not in card["detail"]


BEFORE_DENOSUMAB = ("**Before ordering**\n- denosumab: boxed warning: severe hypocalcemia with "
                    "eGFR < 30 (eGFR: 25 mL/min/1.73m2 (2026-05-01))")


def test_a_card_that_names_denosumab_at_low_egfr_gives_its_caution_and_cites_it():
    """eGFR 25: denosumab stays offered (the follow-on after romosozumab, the overdue dose), with
    the Prolia boxed warning's caution and its citation on every card that names it."""
    gates = b.renal_blocked()
    cards = {
        "proposal": by_topic(build("patient-view", b.assessment(safety_gates=gates)),
                             "romosozumab-proposal"),
        "course complete": by_topic(build("patient-view", b.assessment(
            romosozumab_course=COMPLETE, romosozumab_decision=RomosozumabDecision.COURSE_COMPLETE,
            safety_gates=gates)), "romosozumab-course-complete"),
        "overdue": build("patient-view", b.assessment(
            **NO_ROMO, denosumab=b.denosumab_overdue(), safety_gates=gates))[0],
    }
    for name, card in cards.items():
        assert BEFORE_DENOSUMAB in card["detail"], name
        assert "PROLIA US label, boxed warning" in card["detail"], name


def test_proposal_without_romosozumab_gate_offers_no_order():
    gates = {**b.base().safety_gates, "romosozumab": SafetyGate(
        "romosozumab", False, (b.ev("Calcium", "2026-06-01", value="8.1 mg/dL"),))}
    card = by_topic(build("patient-view", b.assessment(safety_gates=gates)),
                    "romosozumab-proposal")
    assert "suggestions" not in card
    assert "romosozumab: not offered (Calcium: 8.1 mg/dL (2026-06-01))" in card["detail"]


def test_data_gaps_are_said_in_the_detail():
    gaps = ("Conditions could not be read: not supported by the FHIR server",)
    card = build("patient-view", b.assessment(data_gaps=gaps))[0]
    assert "**Data not available**\n- Conditions could not be read" in card["detail"]


# --- cardiovascular contraindication --------------------------------------------------------------
CONTRA = {"romosozumab_decision": RomosozumabDecision.CONTRAINDICATED,
          "cardiovascular": b.CV_CONTRAINDICATED}


def test_cv_contraindication_on_patient_view_is_a_warning_instead_of_the_proposal():
    cards = build("patient-view", b.assessment(**CONTRA))
    assert topics(cards) == ["romosozumab-cv-contraindication"]
    card = cards[0]
    assert card["indicator"] == "warning"
    assert "2025-07-15" in card["summary"]
    assert "Acute myocardial infarction (ICD-10-CM I21.4) (2025-07-15)" in card["detail"]
    assert "teriparatide, abaloparatide, denosumab or zoledronate" in card["detail"]
    assert "suggestions" not in card


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_cv_contraindication_when_ordered_is_critical_and_deletes_the_order(hook):
    a = b.assessment(**CONTRA, orders=(b.ROMOSOZUMAB_ORDER,))
    card = by_topic(build(hook, a), "romosozumab-cv-contraindication")
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Romosozumab contraindicated: MI within 12 months")
    [delete] = actions(card)
    assert delete == {"type": "delete", "description": "Remove the romosozumab order",
                      "resourceId": "MedicationRequest/draft-romo"}


def test_cv_contraindication_when_ordered_whatever_the_risk_level():
    a = b.assessment(romosozumab_decision=RomosozumabDecision.NOT_VERY_HIGH_RISK,
                     cardiovascular=b.CV_CONTRAINDICATED, orders=(b.ROMOSOZUMAB_ORDER,))
    assert topics(build("order-sign", a)) == ["romosozumab-cv-contraindication"]
    assert build("patient-view", a) == []


def test_undated_mi_says_verify_date():
    cv = CardiovascularAssessment(CardiovascularVerdict.CONTRAINDICATED,
                                  recent_events=(b.MI_UNDATED,))
    card = build("patient-view", b.assessment(romosozumab_decision=RomosozumabDecision.
                                              CONTRAINDICATED, cardiovascular=cv))[0]
    assert "verify date" in card["summary"]
    assert "History of myocardial infarction (SNOMED 399211009) (no onset date recorded: " \
           "verify date)" in card["detail"]


def test_recorded_date_is_said_recorded_on():
    cv = CardiovascularAssessment(CardiovascularVerdict.CONTRAINDICATED, recent_events=(
        b.ev("Stroke (SNOMED 230690007)", b.recorded("2026-01-05")),))
    card = build("patient-view", b.assessment(romosozumab_decision=RomosozumabDecision.
                                              CONTRAINDICATED, cardiovascular=cv))[0]
    assert "Stroke (SNOMED 230690007) (recorded on 2026-01-05)" in card["detail"]


# --- hypocalcemia, label, course ---------------------------------------------------------------
def test_hypocalcemia_advisory_and_ordered():
    a = b.assessment(romosozumab_decision=RomosozumabDecision.CONTRAINDICATED,
                     hypocalcemia=b.HYPOCALCEMIA)
    card = build("patient-view", a)[0]
    assert (card["indicator"], card["source"]["topic"]["code"]) == (
        "warning", "romosozumab-hypocalcemia")
    assert "7.9 mg/dL" in card["summary"]
    assert "Calcium: 7.9 mg/dL (2026-06-01); not albumin-adjusted" in card["detail"]
    ordered = build("order-sign", msgspec.structs.replace(a, orders=(b.ROMOSOZUMAB_ORDER,)))
    assert by_topic(ordered, "romosozumab-hypocalcemia")["indicator"] == "critical"


def test_unknown_calcium_asks_for_a_check_in_the_proposal():
    hypo = CriterionResult("hypocalcemia", "Low calcium", Status.UNKNOWN)
    card = build("patient-view", b.assessment(hypocalcemia=hypo))[0]
    assert "check calcium before the first dose" in card["detail"]


def test_not_indicated_only_in_order_hooks_for_a_man():
    population = CriterionResult("population", "Postmenopausal woman with osteoporosis",
                                 Status.NOT_MET, (b.ev("Sex", value="male"),), ("evenity-label",),
                                 reason=PopulationReason.MALE)
    a = b.assessment(population=population, romosozumab_decision=RomosozumabDecision.NOT_INDICATED,
                     orders=(b.ROMOSOZUMAB_ORDER,))
    sign = build("order-sign", a)
    assert topics(sign) == ["romosozumab-not-indicated"]
    assert "Sex: male" in sign[0]["detail"]
    view = build("patient-view", a)
    assert topics(view) == ["very-high-risk-other-agents"]
    assert "teriparatide, abaloparatide, denosumab or zoledronate" in view[0]["summary"]
    assert "Japan" in view[0]["detail"]


def test_other_agents_drops_agents_the_gates_rule_out():
    population = CriterionResult("population", "Postmenopausal woman", Status.NOT_MET)
    a = b.assessment(population=population, romosozumab_decision=RomosozumabDecision.NOT_INDICATED,
                     safety_gates=b.renal_blocked())
    card = build("patient-view", a)[0]
    assert card["summary"] == ("Very high fracture risk: consider teriparatide, abaloparatide or "
                               "denosumab")
    assert "zoledronate: not offered" in card["detail"]


COMPLETE = RomosozumabCourse(12, date(2025, 6, 10), date(2026, 5, 12), complete=True)


def test_course_complete_suggests_gated_antiresorptive_orders():
    a = b.assessment(romosozumab_course=COMPLETE,
                     romosozumab_decision=RomosozumabDecision.COURSE_COMPLETE)
    card = by_topic(build("patient-view", a), "romosozumab-course-complete")
    assert "2026-05-12" in card["summary"]
    assert card["indicator"] == "warning"
    assert created_codes(card) == [ALN, ZOL, DMAB]  # alendronate or zoledronate; denosumab
    blocked = by_topic(build("patient-view", msgspec.structs.replace(
        a, safety_gates=b.renal_blocked())), "romosozumab-course-complete")
    assert created_codes(blocked) == [DMAB]
    assert "alendronate and zoledronate: not offered" in blocked["detail"]


def test_course_complete_ends_once_an_antiresorptive_followed():
    done = msgspec.structs.replace(COMPLETE, antiresorptive_since=True)
    a = b.assessment(romosozumab_course=done,
                     romosozumab_decision=RomosozumabDecision.COURSE_COMPLETE)
    assert build("patient-view", a) == []


def test_course_progress_names_the_next_dose():
    course = RomosozumabCourse(6, date(2026, 1, 10), date(2026, 6, 10),
                               next_dose_due=date(2026, 7, 10))
    a = b.assessment(romosozumab_course=course,
                     romosozumab_decision=RomosozumabDecision.ALREADY_ON_COURSE)
    card = build("patient-view", a)[0]
    assert card["summary"] == "Romosozumab course: dose 7 of 12 due 2026-07-10"
    assert card["indicator"] == "info"


@pytest.mark.parametrize(("due", "missed"), [
    (date(2026, 6, 15), False),  # due today (the builders' as_of): not missed yet
    (date(2026, 6, 14), True),
    (date(2022, 7, 15), True),  # a course interrupted years ago: still the label's missed dose
])
def test_a_missed_dose_is_said_to_be_overdue_not_due(due, missed):
    """EVENITY label 2.1-2.2 (research 2.1, [V2]): a missed dose is given as soon as possible, then
    monthly from it; a card must not read "due 2022-07-15" as if that were ahead."""
    course = RomosozumabCourse(3, date(2022, 4, 15), date(2022, 6, 15), next_dose_due=due)
    a = b.assessment(romosozumab_course=course,
                     romosozumab_decision=RomosozumabDecision.ALREADY_ON_COURSE)
    card = build("patient-view", a)[0]
    if missed:
        assert card["summary"] == (f"Romosozumab dose 4 of 12 overdue since {due.isoformat()}: "
                                   "give it as soon as possible")
        assert card["indicator"] == "warning"
        assert wording.PLAN_MISSED_DOSE in card["detail"]
    else:
        assert card["summary"] == f"Romosozumab course: dose 4 of 12 due {due.isoformat()}"
        assert card["indicator"] == "info"


# --- denosumab -----------------------------------------------------------------------------------
NO_ROMO = {"romosozumab_decision": RomosozumabDecision.NOT_VERY_HIGH_RISK}


def test_denosumab_overdue_card():
    card = build("patient-view", b.assessment(**NO_ROMO, denosumab=b.denosumab_overdue()))[0]
    assert card["source"]["topic"]["code"] == "denosumab-overdue"
    assert card["summary"] == ("Denosumab overdue: last dose 2025-10-15 (8 months ago); give it "
                               "now or start zoledronate")
    assert "Denosumab 60 mg (2025-10-15); administered" in card["detail"]
    assert "multiple vertebral fractures" in card["detail"]
    assert created_codes(card) == [DMAB, ZOL]
    assert card["source"]["label"] == "ECTS 2021 denosumab discontinuation"
    for action in actions(card):
        MedicationRequest.model_validate(action["resource"])


def test_denosumab_overdue_without_zoledronate_when_kidneys_rule_it_out():
    a = b.assessment(**NO_ROMO, denosumab=b.denosumab_overdue(), safety_gates=b.renal_blocked())
    card = build("patient-view", a)[0]
    assert created_codes(card) == [DMAB]
    assert "zoledronate: not offered (eGFR: 25 mL/min/1.73m2 (2026-05-01))" in card["detail"]
    assert "Zoledronate 5 mg IV now" not in card["detail"]


def test_denosumab_overdue_is_not_shown_in_order_hooks():
    a = b.assessment(**NO_ROMO, denosumab=b.denosumab_overdue(), orders=(b.ALENDRONATE_ORDER,))
    assert build("order-select", a) == []


def test_switch_away_from_denosumab_in_order_hooks_only():
    d = msgspec.structs.replace(b.denosumab_overdue(), state=DenosumabState.CURRENT,
                            switch_orders=("MedicationRequest/draft-teri",))
    a = b.assessment(**NO_ROMO, denosumab=d, orders=(b.TERIPARATIDE_ORDER,))
    card = by_topic(build("order-select", a), "denosumab-switch")
    assert card["summary"] == (
        "Stopping denosumab for teriparatide: an antiresorptive is needed to prevent rebound "
        "bone loss")
    replace_dmab, replace_zol = card["suggestions"]
    assert [x["type"] for x in replace_dmab["actions"]] == ["delete", "create"]
    assert replace_zol["actions"][0]["resourceId"] == "MedicationRequest/draft-teri"
    assert topics(build("order-sign", a)) == ["denosumab-switch"]
    assert "denosumab-switch" not in topics(build("patient-view", a))


def rebound(**changes) -> DenosumabAssessment:
    values = {"last_dose": b.ev("Denosumab 60 mg", "2024-08-20", note="administered"),
              "months_since_last_dose": 21,
              "rebound_fractures": (b.ev("Vertebral fracture (ICD-10-CM S22.000A)",
                                         "2026-04-05"),)}
    return msgspec.structs.replace(b.denosumab_overdue(), **{**values, **changes})


def test_rebound_fracture_offers_guideline_options_then_sarli_when_allowed():
    a = b.assessment(denosumab=rebound(), rebound_romosozumab_allowed=True)
    cards = build("patient-view", a)
    card = by_topic(cards, "denosumab-rebound-fracture")
    assert "denosumab-overdue" not in topics(cards)
    detail = card["detail"]
    assert detail.index("restart denosumab") < detail.index("may be considered for selected")
    assert "10.1093/jbmrpl/ziaf186" in detail
    assert "four-patient uncontrolled case series" in detail
    assert "case report" in detail
    assert created_codes(card) == [DMAB, ZOL, ROMO]


def test_rebound_fracture_without_romosozumab_when_cv_blocks():
    a = b.assessment(denosumab=rebound(), rebound_romosozumab_allowed=False, **CONTRA)
    cards = build("patient-view", a)
    card = by_topic(cards, "denosumab-rebound-fracture")
    assert created_codes(card) == [DMAB, ZOL]
    assert "Romosozumab (case-series evidence) is not offered" in card["detail"]
    assert "romosozumab-cv-contraindication" in topics(cards)


def test_next_dose_and_follow_on_monitoring():
    current = DenosumabAssessment(DenosumabState.CURRENT, last_dose=b.ev(
        "Denosumab 60 mg", "2026-01-15", note="administered"), next_dose_due=date(2026, 7, 15))
    card = build("patient-view", b.assessment(**NO_ROMO, denosumab=current))[0]
    assert card["summary"] == ("Denosumab next dose due 2026-07-15; do not stop without "
                               "follow-on therapy")
    followed = DenosumabAssessment(
        DenosumabState.FOLLOWED_ON, follow_on=b.ev("Zoledronic acid 5 mg", "2026-05-12"),
        ctx_check_dates=(date(2026, 8, 12), date(2026, 11, 12)))
    card = build("patient-view", b.assessment(**NO_ROMO, denosumab=followed))[0]
    assert card["summary"] == ("After zoledronate (2026-05-12): check CTX on 2026-08-12 and "
                               "2026-11-12")


# --- hooks, deceased, determinism ---------------------------------------------------------------
@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_deceased_patient_gets_no_cards(hook):
    a = b.assessment(deceased=True, denosumab=b.denosumab_overdue(),
                     orders=(b.ROMOSOZUMAB_ORDER,), **CONTRA)
    assert build(hook, a) == []


def test_unknown_hook_is_refused():
    with pytest.raises(ValueError, match="unknown hook"):
        build_cards("encounter-start", b.assessment(), b.record(), b.KNOWLEDGE, patient_id="p")


def test_cards_are_most_urgent_first_and_deterministic_with_a_uuid_factory():
    a = b.assessment(**CONTRA, hypocalcemia=b.HYPOCALCEMIA, orders=(b.ROMOSOZUMAB_ORDER,),
                     denosumab=rebound(state=DenosumabState.OVERDUE,
                                       switch_orders=("MedicationRequest/draft-romo",)))
    first, second = build("order-sign", a), build("order-sign", a)
    assert first == second
    assert [c["indicator"] for c in first] == ["critical", "critical", "warning"]
    assert first[0]["uuid"] == "00000000-0000-4000-8000-000000000001"


def test_unknown_citations_fall_back_to_a_labelled_source():
    a = b.assessment(cardiovascular=msgspec.structs.replace(b.CV_CAUTION, citations=("nope",)),
                     population=msgspec.structs.replace(b.POPULATION, citations=()),
                     risk_criteria=())
    caution = by_topic(build("patient-view", a), "romosozumab-cv-caution")
    assert caution["source"]["label"] == "osteocds clinical knowledge test-1"
    assert "url" not in caution["source"]
    assert "links" not in caution


def test_a_value_that_is_the_date_is_not_repeated():
    fracture = b.ev("Vertebral fracture (S22.000A)", "2026-04-05", value="2026-04-05")
    card = build("patient-view", b.assessment(denosumab=rebound(rebound_fractures=(fracture,))))
    detail = by_topic(card, "denosumab-rebound-fracture")["detail"]
    assert "- Vertebral fracture (S22.000A) (2026-04-05)\n" in detail


def test_course_complete_with_a_romosozumab_order_offers_replacements():
    a = b.assessment(romosozumab_course=COMPLETE, orders=(b.ROMOSOZUMAB_ORDER,),
                     romosozumab_decision=RomosozumabDecision.COURSE_COMPLETE)
    card = by_topic(build("order-sign", a), "romosozumab-course-complete")
    remove, aln, zol, dmab = card["suggestions"]
    assert [x["type"] for x in remove["actions"]] == ["delete"]
    assert remove["isRecommended"] is True
    assert aln["label"] == "Replace the romosozumab order with alendronate"
    assert zol["label"] == "Replace the romosozumab order with zoledronate"
    assert [x["type"] for x in zol["actions"]] == ["delete", "create"]
    assert dmab["actions"][0]["resourceId"] == "MedicationRequest/draft-romo"


def calcium_blocks_denosumab() -> dict[str, SafetyGate]:
    low = (b.ev("Calcium", "2026-06-01", value="7.9 mg/dL"),)
    return {**b.renal_blocked(), "denosumab": SafetyGate("denosumab", False, low)}


def test_named_follow_on_drugs_pass_the_gates_in_every_text():
    rebound_card = by_topic(build("patient-view", b.assessment(
        denosumab=rebound(), safety_gates=b.renal_blocked())), "denosumab-rebound-fracture")
    assert "Guideline-recommended (ECTS 2021): restart denosumab promptly, to reduce" \
        in rebound_card["detail"]
    assert created_codes(rebound_card) == [DMAB]

    nothing = by_topic(build("patient-view", b.assessment(
        denosumab=rebound(), safety_gates=calcium_blocks_denosumab())),
        "denosumab-rebound-fracture")
    assert "ruled out by this patient's data" in nothing["detail"]
    assert DMAB not in created_codes(nothing)

    complete = by_topic(build("patient-view", b.assessment(
        romosozumab_course=COMPLETE, romosozumab_decision=RomosozumabDecision.COURSE_COMPLETE,
        safety_gates=calcium_blocks_denosumab())), "romosozumab-course-complete")
    assert "Denosumab is an alternative" not in complete["detail"]
    assert "denosumab: not offered (Calcium: 7.9 mg/dL (2026-06-01))" in complete["detail"]
    assert "suggestions" not in complete

    followed = DenosumabAssessment(
        DenosumabState.FOLLOWED_ON, follow_on=b.ev("Zoledronic acid 5 mg", "2026-05-12"),
        ctx_check_dates=(date(2026, 8, 12), date(2026, 11, 12)))
    monitoring = build("patient-view", b.assessment(**NO_ROMO, denosumab=followed,
                                                    safety_gates=b.renal_blocked()))[0]
    assert "repeat zoledronate" not in monitoring["detail"]
    assert "zoledronate: not offered (eGFR" in monitoring["detail"]
