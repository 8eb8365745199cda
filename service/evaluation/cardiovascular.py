"""MI/stroke and other cardiovascular risk factors under the `us` or `eu` policy.

Dates resolve in the safe direction: an event whose interval reaches into the 12-month window
(inclusive: exactly 12 months ago counts) is recent; undated events and history/sequela codes
(which only bound the event from above) that may fall in the window are recent with "verify date".
"""

from __future__ import annotations

from datetime import date

from service.evaluation.dates import may_be_on_or_after, months_before, wholly_on_or_after
from service.evaluation.labs import (
    condition_value_sets,
    format_quantity,
    latest_within,
    results,
)
from service.evaluation.model import CardiovascularAssessment, CardiovascularVerdict, Evidence
from service.evaluation.risk import condition_evidence
from service.knowledge import Knowledge
from service.record.model import Condition, DateRange, PatientRecord

EVENT_SETS = {"myocardial-infarction": "Myocardial infarction",
              "stroke": "Stroke", "stroke-history": "Stroke (history or sequela)"}
EGFR_FACTOR = "egfr"
RISK_SETS = {"established-cvd": "Established cardiovascular disease", "diabetes": "Diabetes",
             "hypertension": "Hypertension", "hyperlipidaemia": "Hyperlipidaemia",
             "smoking": "Smoking"}


def event_interval(condition: Condition, upper_bound_only: bool) -> DateRange:
    """The interval the event itself lies in; history codes give only an upper bound.

    An onset the record does not state is already bounded by recordedDate
    (`service.record.parse.condition_onset`)."""
    onset = condition.onset
    if upper_bound_only:
        return DateRange(None, onset.latest, onset.source)
    return onset


def assess_cardiovascular(record: PatientRecord, knowledge: Knowledge, as_of: date,
                          policy: str) -> CardiovascularAssessment:
    """Verdict CONTRAINDICATED / CAUTION / CLEAR (UNKNOWN when conditions are partial)."""
    cv_policy = knowledge.cv_policy(policy)
    start = months_before(as_of, int(knowledge.value("cv_event_window_months")))
    recent: list[Evidence] = []
    prior: list[Evidence] = []
    for condition, sets in condition_value_sets(record, knowledge):
        hit = next((s for s in EVENT_SETS if s in sets), None)
        if hit is None:
            continue
        upper_only = bool(sets[hit].attributes.get("date_is_upper_bound"))
        when = event_interval(condition, upper_only)
        evidence = condition_evidence(condition, EVENT_SETS[hit], kind=hit)
        if wholly_on_or_after(when, start):
            recent.append(evidence)
        elif may_be_on_or_after(when, start):
            notes = ("date uncertain: verify date", evidence.note)
            recent.append(Evidence(evidence.description, evidence.reference, when,
                                   note="; ".join(n for n in notes if n), kind=hit))
        else:
            prior.append(evidence)
    factors = _risk_factors(record, knowledge, as_of)
    verdict = _verdict(cv_policy.recent_event if recent else None,
                       cv_policy.prior_event if prior else None,
                       cv_policy.risk_factors if factors else None)
    if verdict is CardiovascularVerdict.CLEAR and _conditions_partial(record):
        verdict = CardiovascularVerdict.UNKNOWN
    citations = (*cv_policy.citations, *knowledge.rule("cardiovascular").citations)
    return CardiovascularAssessment(verdict, tuple(recent), tuple(prior), tuple(factors.values()),
                                    tuple(dict.fromkeys(citations)),
                                    severe_renal_impairment=factors.get(EGFR_FACTOR))


def _verdict(*outcomes: str | None) -> CardiovascularVerdict:
    if "contraindicated" in outcomes:
        return CardiovascularVerdict.CONTRAINDICATED
    if "caution" in outcomes:
        return CardiovascularVerdict.CAUTION
    return CardiovascularVerdict.CLEAR


def _conditions_partial(record: PatientRecord) -> bool:
    return any(g.partial and g.resource_type == "Condition" for g in record.data_gaps)


def _risk_factors(record: PatientRecord, knowledge: Knowledge, as_of: date
                  ) -> dict[str, Evidence]:
    """The risk factors found, by risk set id (and `EGFR_FACTOR` for an eGFR < 30)."""
    found: dict[str, Evidence] = {}
    for condition, sets in condition_value_sets(record, knowledge):
        if condition.is_inactive:
            continue
        for set_id, label in RISK_SETS.items():
            if set_id in sets and set_id not in found:
                found[set_id] = condition_evidence(condition, label)
    smoking = _current_smoker(record, knowledge)
    if smoking is not None and "smoking" not in found:
        found["smoking"] = smoking
    egfr = latest_within(record, knowledge, "egfr", as_of, "lab_window_months")
    limit = float(knowledge.value("egfr_severe_renal_impairment"))
    if egfr is not None and egfr.observation.value.value < limit:  # type: ignore[union-attr]
        found[EGFR_FACTOR] = Evidence("Severe renal impairment (eGFR < 30)",
                                 egfr.observation.reference, egfr.observation.effective,
                                 format_quantity(egfr.observation))
    return found


def _current_smoker(record: PatientRecord, knowledge: Knowledge) -> Evidence | None:
    statuses = results(record, knowledge, "smoking-status")
    if not statuses:
        return None
    latest = statuses[0].observation
    if knowledge.match_value_set("current-smoker-status", latest.value_codings):
        return Evidence("Current smoker (smoking status)", latest.reference, latest.effective,
                        ", ".join(c.display or c.code for c in latest.value_codings))
    if not latest.value_codings and knowledge.matches_value_set_text(
            "current-smoker-status", latest.value_text):
        return Evidence("Current smoker (smoking status, as text)", latest.reference,
                        latest.effective, latest.value_text)
    return None
