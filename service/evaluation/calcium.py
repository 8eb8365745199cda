"""Hypocalcemia: latest total serum calcium within 12 months, or an active diagnosis; and the latest
25-hydroxyvitamin D, shown (never judged) when hypocalcemia blocks."""

from __future__ import annotations

from datetime import date

from service.evaluation.labs import (
    Result,
    display_unit,
    format_quantity,
    latest_within,
    plain_number,
    results,
)
from service.evaluation.model import CriterionResult, Evidence, Status
from service.evaluation.risk import condition_evidence, first_condition
from service.knowledge import Knowledge
from service.record.model import PatientRecord

MG_DL = {"mg/dl"}
MMOL_L = {"mmol/l"}


def _unit(result: Result) -> str:
    quantity = result.observation.value
    return ((quantity.code or quantity.unit or "") if quantity else "").strip().lower()


def assess_hypocalcemia(record: PatientRecord, knowledge: Knowledge, as_of: date
                        ) -> CriterionResult:
    """MET = low calcium or active hypocalcemia (a block); UNKNOWN = no calcium in 12 months."""
    rule = knowledge.rule("hypocalcemia")
    diagnosis = first_condition(record, knowledge, "hypocalcemia", active_only=True)
    calcium = latest_within(record, knowledge, "calcium-total", as_of, "calcium_window_months")
    evidence: list[Evidence] = []
    low = False
    note: str | None = None
    if calcium is not None:
        low, value_evidence = _judge(record, knowledge, calcium)
        evidence.append(value_evidence)
    if diagnosis is not None:
        evidence.append(condition_evidence(diagnosis, "Hypocalcemia diagnosis (active)"))
    if low or diagnosis is not None:
        status = Status.MET
    elif calcium is None:
        status = Status.UNKNOWN
        note = "no total serum calcium within 12 months: check calcium before the first dose"
    elif evidence[0].note and "unit" in evidence[0].note:
        status = Status.UNKNOWN
        note = evidence[0].note
    else:
        status = Status.NOT_MET
    return CriterionResult("hypocalcemia", rule.label, status, tuple(evidence), rule.citations,
                           note)


def latest_vitamin_d(record: PatientRecord, knowledge: Knowledge, as_of: date
                     ) -> Evidence | None:
    """The newest 25-hydroxyvitamin D within the lab window, as evidence to show. Not judged:
    the research verifies its LOINC codes, not a deficiency threshold."""
    found = latest_within(record, knowledge, "vitamin-d", as_of, "lab_window_months")
    if found is None:
        return None
    obs = found.observation
    return Evidence("25-hydroxyvitamin D", obs.reference, obs.effective, format_quantity(obs))


def _judge(record: PatientRecord, knowledge: Knowledge, calcium: Result
           ) -> tuple[bool, Evidence]:
    obs = calcium.observation
    value = obs.value.value  # type: ignore[union-attr]
    unit = _unit(calcium)
    adjusted, albumin_note = _albumin_adjusted(record, knowledge, calcium, value, unit)
    shown = format_quantity(obs)
    unit_text = display_unit(obs.value) if obs.value is not None else ""
    if adjusted is not None:
        adjusted_text = f"{_calcium_number(adjusted, unit)} {unit_text}".strip()
        albumin_note = f"albumin-adjusted {adjusted_text}"
        value = adjusted
    limit, source = _lower_limit(knowledge, calcium, unit)
    if limit is None:
        flagged = "L" in obs.interpretation or "LL" in obs.interpretation
        note = None if flagged else "unit not recognised: cannot compare to a lower limit"
        return flagged, Evidence("Total serum calcium", obs.reference, obs.effective, shown,
                                 note or albumin_note)
    flagged = adjusted is None and ("L" in obs.interpretation or "LL" in obs.interpretation)
    low = value < limit or flagged
    limit_text = f"lower limit {plain_number(limit)} {unit_text}".strip()
    note = f"{albumin_note}; {limit_text} ({source})"
    return low, Evidence("Total serum calcium", obs.reference, obs.effective, shown, note)


def _calcium_number(value: float, unit: str) -> str:
    """Calcium as laboratories print it: 1 decimal in mg/dL, 2 in mmol/L."""
    return f"{value:.2f}" if unit in MMOL_L else f"{value:.1f}"


def _lower_limit(knowledge: Knowledge, calcium: Result, unit: str
                 ) -> tuple[float | None, str]:
    low = calcium.observation.reference_low
    if low is not None:
        low_unit = (low.code or low.unit or unit).strip().lower()
        if low_unit == unit or not low.unit:
            return low.value, "laboratory reference range"
    if unit in MG_DL:
        return float(knowledge.value("calcium_lower_limit_mg_dl")), "label lower limit"
    if unit in MMOL_L:
        return float(knowledge.value("calcium_lower_limit_mmol_l")), "label lower limit"
    return None, ""


def _albumin_adjusted(record: PatientRecord, knowledge: Knowledge, calcium: Result,
                      value: float, unit: str) -> tuple[float | None, str]:
    max_days = int(knowledge.value("albumin_max_days_apart"))
    reference = float(knowledge.value("albumin_reference_g_dl"))
    for albumin in results(record, knowledge, "albumin"):
        quantity = albumin.observation.value
        if quantity is None or albumin.day is None or calcium.day is None:
            continue
        if abs((albumin.day - calcium.day).days) > max_days:
            continue
        albumin_unit = (quantity.code or quantity.unit or "").strip().lower()
        grams_dl = quantity.value / 10.0 if albumin_unit == "g/l" else quantity.value
        if albumin_unit not in {"g/l", "g/dl"}:
            continue
        if unit in MG_DL:
            return value + 0.8 * (reference - grams_dl), "albumin-adjusted"
        if unit in MMOL_L:
            return value + 0.02 * (reference * 10 - grams_dl * 10), "albumin-adjusted"
    return None, "not adjusted for albumin"
