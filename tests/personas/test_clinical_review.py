"""What a specialist's review of every persona's cards found wrong (stop 25), each fixed and
held here: alternatives that fit the situation, the rebound context on a romosozumab proposal,
doses given after an MI, the osteoporosis diagnosis rather than a fracture code, partial dates as
the record wrote them, ongoing therapy, the overdue interval to the day, and the switch text's
sources (research: clinical-knowledge.md 3.3-3.4, section 5: P01, P14, P15, v04, b04)."""

from __future__ import annotations

import re

import pytest

from tests.personas.calls import persona_cards, the_card

ANABOLICS = ("teriparatide", "abaloparatide")


def _alternatives(detail: str) -> str:
    lines = [line for line in detail.splitlines() if line.startswith("- Alternatives:")]
    assert len(lines) == 1, detail
    return lines[0]


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_after_rebound_fractures_the_alternatives_are_the_rebound_antiresorptives(make_app, hook):
    # P15: rebound vertebral fractures after denosumab and a recent stroke (romosozumab blocked)
    draft = None if hook == "patient-view" else "romosozumab"
    card = the_card(persona_cards(make_app, "p15", hook, draft), "romosozumab-cv-contraindication")
    line = _alternatives(card["detail"])
    assert line == "- Alternatives: denosumab or zoledronate."
    assert not any(agent in line for agent in ANABOLICS)


def test_a_course_stopped_for_an_mi_names_antiresorptives_and_the_doses_after_it(make_app):
    card = the_card(persona_cards(make_app, "v04"), "romosozumab-cv-contraindication")
    detail = card["detail"]
    assert _alternatives(detail) == "- Alternatives: alendronate, zoledronate or denosumab."
    # v04: MI 2026-04-15, monthly doses through 2026-06-10: two after the event
    assert ("Doses given after the event (2026-04-15): 2 (2026-05-10, 2026-06-10)") in detail
    assert card["summary"].startswith("Stop romosozumab mid-course: MI within 12 months")
    assert "no recorded date" not in detail  # the MI is dated: no undated-event boilerplate


def test_the_undated_event_sentence_stays_when_the_event_is_undated(make_app):
    card = the_card(persona_cards(make_app, "p19"), "romosozumab-cv-contraindication")
    assert "An event with no recorded date is treated as recent" in card["detail"]
    assert "MI with no recorded date" in card["summary"]


def test_without_denosumab_the_alternatives_still_include_the_anabolic_agents(make_app):
    card = the_card(persona_cards(make_app, "p02"), "romosozumab-cv-contraindication")
    assert _alternatives(card["detail"]).startswith("- Alternatives: teriparatide, abaloparatide")


@pytest.mark.parametrize(("hook", "draft"), [("patient-view", None),
                                             ("order-select", "alendronate")])
def test_a_proposal_after_rebound_fractures_puts_the_guideline_options_first(make_app, hook,
                                                                             draft):
    card = the_card(persona_cards(make_app, "p14", hook, draft), "romosozumab-proposal")
    assert "**After denosumab (rebound fractures)**" in card["detail"]
    assert "Guidelines recommend denosumab retreatment or zoledronate first" in card["detail"]
    assert not any(s.get("isRecommended") for s in card.get("suggestions", []))
    sources = set(re.findall(r"- \[([^\]]+)\]\(", card["detail"]))
    assert {"Sarli et al., JBMR Plus 2025", "ECTS 2021 (Tsourdi et al.)"} <= sources


def test_a_proposal_without_rebound_keeps_its_recommended_order(make_app):
    card = the_card(persona_cards(make_app, "p01"), "romosozumab-proposal")
    assert "After denosumab" not in card["detail"]
    assert any(s.get("isRecommended") for s in card["suggestions"])


def test_the_osteoporosis_diagnosis_shown_is_not_the_fracture_code(make_app):
    # P01: postmenopausal osteoporosis 102447009 (2023) and an osteoporotic vertebral collapse
    # 240198002 / M80.08XA (2026-02-10), which is in both value sets
    detail = the_card(persona_cards(make_app, "p01"), "romosozumab-proposal")["detail"]
    assert "  - Osteoporosis diagnosis (102447009) (2023)" in detail.splitlines()
    assert "Osteoporosis diagnosis (240198002" not in detail


def test_ongoing_therapy_reads_as_started_then_still_in_use(make_app):
    detail = the_card(persona_cards(make_app, "p01"), "romosozumab-proposal")["detail"]
    assert "alendronate 70 mg tablet (reported) (2024-05); started then, still in use" in detail
    assert "between" not in detail


def test_overdue_interval_is_counted_to_the_day(make_app):
    # b04: last dose 2025-11-17, as of 2026-06-15: 6 months 29 days, one day past 6 months + 28
    card = the_card(persona_cards(make_app, "b04"), "denosumab-overdue")
    assert "(6 months 29 days ago)" in card["summary"]
    assert "- Time since the last dose: 6 months 29 days" in card["detail"]


def test_the_switch_card_separates_the_sources_from_the_service_classification(make_app):
    card = the_card(persona_cards(make_app, "p11", "order-select", "teriparatide"),
                    "denosumab-switch")
    detail = card["detail"]
    assert "ECTS 2021 recommends an alternative antiresorptive 6 months after" in detail
    assert "a classification of this service, not a guideline statement [U]" in detail
    assert "do not prevent the rebound after denosumab: give" not in detail


def test_severe_renal_impairment_adds_calcium_monitoring_to_the_plan(make_app):
    # P18: eGFR 25 (EVENITY US label 5.3: monitor calcium in severe renal impairment)
    detail = the_card(persona_cards(make_app, "p18"), "romosozumab-proposal")["detail"]
    assert ("- Severe renal impairment (eGFR 25 mL/min/1.73m2): monitor serum calcium during "
            "treatment (EVENITY US label 5.3).") in detail.splitlines()
    p01 = the_card(persona_cards(make_app, "p01"), "romosozumab-proposal")["detail"]
    assert "monitor serum calcium" not in p01


def test_the_unverified_older_age_rule_is_marked_where_it_is_met(make_app):
    detail = the_card(persona_cards(make_app, "p18"), "romosozumab-proposal")["detail"]
    assert "- Older age (over 74) [U: unverified rule]" in detail.splitlines()
    assert "[U: unverified rule]" not in the_card(persona_cards(make_app, "p01"),
                                                  "romosozumab-proposal")["detail"]


def test_ctx_checks_are_marked_unverified_and_only_follow_denosumab(make_app):
    overdue = the_card(persona_cards(make_app, "b04"), "denosumab-overdue")
    notes = {s["label"]: s["actions"][0]["resource"]["note"][0]["text"]
             for s in overdue["suggestions"]}
    zoledronate = next(text for label, text in notes.items() if "zoledronic" in label)
    assert zoledronate.endswith("Measure CTX 3 and 6 months after the infusion [U].")
    assert all("CTX" not in text for label, text in notes.items() if "denosumab" in label)
    assert "repeat if above the premenopausal reference range [U]" in overdue["detail"]
    # P09: zoledronate after a completed romosozumab course: no denosumab CTX algorithm
    complete = the_card(persona_cards(make_app, "p09"), "romosozumab-course-complete")
    assert "CTX" not in str(complete["suggestions"])
    monitoring = the_card(persona_cards(make_app, "p13"), "denosumab-follow-on-monitoring")
    assert "[U]" in monitoring["detail"]


def test_the_overdue_summary_says_what_to_do(make_app):
    summary = the_card(persona_cards(make_app, "b04"), "denosumab-overdue")["summary"]
    assert summary.endswith("; give it now or start zoledronate")


def test_approvals_for_men_are_named_only_for_a_man(make_app):
    man = the_card(persona_cards(make_app, "p07"), "very-high-risk-other-agents")["detail"]
    woman = the_card(persona_cards(make_app, "p08"), "very-high-risk-other-agents")["detail"]
    assert "Approvals for men exist in Japan" in man
    assert "Japan" not in woman


def test_drugs_ruled_out_by_the_same_evidence_share_one_line(make_app):
    # P10: low calcium rules out denosumab and zoledronate; it was shown in full three times
    detail = the_card(persona_cards(make_app, "p10"), "romosozumab-hypocalcemia")["detail"]
    ruled_out = [line for line in detail.splitlines() if ": not offered (" in line]
    assert len(ruled_out) == 1, ruled_out
    assert ruled_out[0].startswith("- denosumab and zoledronate: not offered (Total serum calcium")
    assert detail.count("albumin-adjusted 7.9 mg/dL") == 2  # the event, then the one shared line


def test_a_rebound_card_says_romosozumab_is_ruled_out_once_with_its_evidence(make_app):
    # P15: a recent MI rules romosozumab out; the option line points to the evidence below
    detail = the_card(persona_cards(make_app, "p15"), "denosumab-rebound-fracture")["detail"]
    assert "- Romosozumab (case-series evidence): not offered (reason below)." in detail
    assert "- romosozumab: not offered (Myocardial infarction (I21.4) (2025-12-20))" in detail
    assert "did not pass" not in detail


def test_a_completed_course_offers_the_alendronate_its_plan_names(make_app):
    # P09: 12 doses given; "Start alendronate or zoledronate now" had no alendronate order
    card = the_card(persona_cards(make_app, "p09"), "romosozumab-course-complete")
    assert "Start alendronate or zoledronate now." in card["detail"]
    orders = [action["resource"] for s in card["suggestions"] for action in s["actions"]
              if action["type"] == "create"]
    alendronate = next(o for o in orders
                       if o["medicationCodeableConcept"]["coding"][0]["code"] == "904431")
    assert alendronate["dosageInstruction"][0]["timing"]["repeat"] == {
        "frequency": 1, "period": 1, "periodUnit": "wk"}
    assert alendronate["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 70


@pytest.mark.parametrize(("persona", "event"), [("p02", "MI"), ("p04", "stroke")])
def test_the_summary_names_the_event_found(make_app, persona, event):
    card = the_card(persona_cards(make_app, persona), "romosozumab-cv-contraindication")
    assert f"Romosozumab not advised: {event} within 12 months (" in card["summary"]
