"""Follow-on safety gates: is a drug the cards might suggest ruled out by this patient's data?"""

from __future__ import annotations

from datetime import date

from service.evaluation.labs import format_quantity, latest_within
from service.evaluation.model import (
    CardiovascularAssessment,
    CardiovascularVerdict,
    CriterionResult,
    Evidence,
    SafetyGate,
    Status,
)
from service.knowledge import Knowledge
from service.knowledge.knowledge import SafetyGateRule
from service.record.model import PatientRecord


def safety_gates(record: PatientRecord, knowledge: Knowledge, as_of: date,
                 hypocalcemia: CriterionResult, cardiovascular: CardiovascularAssessment
                 ) -> dict[str, SafetyGate]:
    """One gate per drug in the policy data (zoledronic acid, alendronate, denosumab, romo)."""
    egfr = latest_within(record, knowledge, "egfr", as_of, "lab_window_months")
    return {drug: _gate(rule, egfr, hypocalcemia, cardiovascular)
            for drug, rule in knowledge.safety_gates.items()}


def _gate(rule: SafetyGateRule, egfr, hypocalcemia: CriterionResult,
          cardiovascular: CardiovascularAssessment) -> SafetyGate:
    reasons: list[Evidence] = []
    cautions: list[Evidence] = []
    checks: list[str] = []
    egfr_value = egfr.observation.value.value if egfr is not None else None
    egfr_evidence = None
    if egfr is not None:
        egfr_evidence = Evidence("eGFR", egfr.observation.reference, egfr.observation.effective,
                                 format_quantity(egfr.observation))
    if rule.min_egfr is not None:
        if egfr_value is None:
            checks.append("no eGFR within 12 months: check kidney function before ordering")
        elif egfr_value < rule.min_egfr:
            reasons.append(egfr_evidence)  # type: ignore[arg-type]
    if rule.caution_below_egfr is not None:
        if egfr_value is None:
            checks.append("no eGFR within 12 months: check kidney function")
        elif egfr_value < rule.caution_below_egfr:
            cautions.append(egfr_evidence)  # type: ignore[arg-type]
    if rule.blocks_on_hypocalcemia:
        if hypocalcemia.status is Status.MET:
            reasons.extend(hypocalcemia.evidence)
        elif hypocalcemia.status is Status.UNKNOWN:
            checks.append("check serum calcium (and albumin) before the first dose")
    if rule.blocks_on_cv_contraindication and \
            cardiovascular.verdict is CardiovascularVerdict.CONTRAINDICATED:
        reasons.extend(cardiovascular.recent_events or cardiovascular.prior_events)
    return SafetyGate(drug=rule.drug, allowed=not reasons, reasons=tuple(reasons),
                      citations=rule.citations, cautions=tuple(cautions), checks=tuple(checks),
                      caution_text=rule.note if cautions else None)
