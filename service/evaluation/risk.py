"""Population and the very-high-risk criteria (AACE 2020 + the seed list's older-age rule)."""

from __future__ import annotations

from datetime import date

from service.evaluation.dates import (
    add_months,
    age_bounds,
    may_be_on_or_after,
    months_before,
    wholly_on_or_after,
)
from service.evaluation.facts import BoneDensity, unconfirmed_note
from service.evaluation.fractures import FractureEvent
from service.evaluation.labs import (
    Result,
    condition_value_sets,
    format_quantity,
    format_t_score,
    plain_number,
    results,
)
from service.evaluation.model import CriterionResult, Evidence, PopulationReason, Status
from service.evaluation.therapy import ONGOING_NOTE, DrugUse, ongoing, use_description, uses_of
from service.knowledge import Knowledge
from service.record.model import Condition, Patient, PatientRecord


def bone_density(record: PatientRecord, knowledge: Knowledge) -> BoneDensity:
    """T-score = lowest valid site of the most recent DXA study (same effective day)."""
    scores = [r for r in results(record, knowledge, "t-score")
              if r.observation.value is not None and r.day is not None]
    if not scores:
        return BoneDensity(None, None)
    study_day = scores[0].day
    study = [r for r in scores if r.day == study_day]
    lowest = min(study, key=lambda r: r.observation.value.value)  # type: ignore[union-attr]
    ever = min(scores, key=lambda r: r.observation.value.value)  # type: ignore[union-attr]
    return BoneDensity(lowest, ever)


def t_value(result: Result | None) -> float | None:
    if result is None or result.observation.value is None:
        return None
    return result.observation.value.value


def t_evidence(result: Result, knowledge: Knowledge | None = None) -> Evidence:
    """The T-score as DXA reports print it (one decimal, no unit); two decimals when one would
    land on a policy threshold the precise value is not (-3.04 is below -3.0, "-3.0" is not)."""
    site = result.site or "DXA"
    value = t_value(result)
    shown = format_quantity(result.observation) if value is None else format_t_score(value)
    if value is not None and knowledge is not None and _rounds_onto_threshold(knowledge, value):
        shown = f"{value:.2f}"
    return Evidence(description=f"T-score, {site}", reference=result.observation.reference,
                    when=result.observation.effective, value=shown)


def _rounds_onto_threshold(knowledge: Knowledge, value: float) -> bool:
    thresholds = (float(knowledge.value(name)) for name in
                  ("very_low_t_score", "osteoporosis_t_score", "low_bone_mass_t_score"))
    return any(round(value, 1) == limit and abs(value - limit) >= 0.005 for limit in thresholds)


def condition_evidence(condition: Condition, label: str, kind: str | None = None) -> Evidence:
    codes = ", ".join(c.code for c in condition.codings)
    return Evidence(description=f"{label} ({codes})" if codes else label,
                    reference=condition.reference, when=condition.onset,
                    note=unconfirmed_note((condition,)), kind=kind)


def first_condition(record: PatientRecord, knowledge: Knowledge, value_set: str, *,
                    active_only: bool = False) -> Condition | None:
    """The first condition coded in `value_set`; `active_only` skips inactive, remission and
    resolved ones (and abated ones without a clinicalStatus)."""
    return next((c for c, sets in condition_value_sets(record, knowledge)
                 if value_set in sets and not (active_only and c.is_inactive)),
                None)


def has_osteoporosis_diagnosis(record: PatientRecord, knowledge: Knowledge) -> Condition | None:
    """The osteoporosis diagnosis, preferring one that is not also a fracture code: the
    osteoporosis value set holds osteoporotic fracture codes too (240198002, M80.-), which the
    fracture criteria already show as fractures."""
    coded = [c for c, sets in condition_value_sets(record, knowledge) if "osteoporosis" in sets]
    return next((c for c in coded if knowledge.match_fracture(c.codings) is None),
                coded[0] if coded else None)


def low_bone_mass(record: PatientRecord, knowledge: Knowledge, density: BoneDensity) -> bool:
    limit = float(knowledge.value("low_bone_mass_t_score"))
    value = t_value(density.latest_study_lowest)
    return bool(has_osteoporosis_diagnosis(record, knowledge)) or (
        value is not None and value <= limit)


def _criterion(knowledge: Knowledge, rule_id: str, status: Status,
               evidence: tuple[Evidence, ...] = (), note: str | None = None,
               reason: str | None = None) -> CriterionResult:
    rule = knowledge.rule(rule_id)
    return CriterionResult(id=rule_id, label=rule.label, status=status, evidence=evidence,
                           citations=rule.citations, note=note, reason=reason,
                           unverified=rule.verification == "U")


def age_day(patient: Patient, as_of: date) -> date | None:
    """The day a patient's age is counted at: `as_of`, or the date of death for a deceased
    patient (a dead patient ages no further); None when deceased on an unknown date."""
    if not patient.deceased:
        return as_of
    if patient.deceased_date is None:
        return None
    return min(patient.deceased_date, as_of)


def patient_age_bounds(patient: Patient, as_of: date) -> tuple[int | None, int | None]:
    """(youngest, oldest) whole-year age on `age_day` (both None when that day is unknown)."""
    day = age_day(patient, as_of)
    return age_bounds(patient.birth_date, day) if day is not None else (None, None)


def _age_evidence(patient: Patient, years: int) -> Evidence:
    if patient.deceased:
        return Evidence("Age at death", value=f"{years} years")
    return Evidence("Age", value=f"{years} years")


def population(record: PatientRecord, knowledge: Knowledge, as_of: date,
               events: tuple[FractureEvent, ...], density: BoneDensity) -> CriterionResult:
    """Romosozumab labelled population: woman, postmenopausal, with osteoporosis."""
    patient = record.patient
    if patient is None:
        return _criterion(knowledge, "population.romosozumab", Status.UNKNOWN,
                          note="no Patient data", reason=PopulationReason.NO_PATIENT)
    evidence: list[Evidence] = []
    if patient.gender == "male":
        return _criterion(knowledge, "population.romosozumab", Status.NOT_MET,
                          (Evidence("Sex: male"),), note="labelled for postmenopausal women",
                          reason=PopulationReason.MALE)
    if patient.gender != "female":
        return _criterion(knowledge, "population.romosozumab", Status.UNKNOWN,
                          note="sex not recorded as female", reason=PopulationReason.SEX_UNKNOWN)
    evidence.append(Evidence("Sex: female"))
    menopause, menopause_evidence, note = _postmenopausal(record, knowledge, as_of)
    evidence.extend(menopause_evidence)
    if menopause is not Status.MET:
        reason = (PopulationReason.PREMENOPAUSAL if menopause is Status.NOT_MET
                  else PopulationReason.MENOPAUSE_UNKNOWN)
        return _criterion(knowledge, "population.romosozumab", menopause, tuple(evidence), note,
                          reason)
    osteoporosis = osteoporosis_evidence(record, knowledge, events, density)
    if osteoporosis is None:
        return _criterion(knowledge, "population.romosozumab", Status.NOT_MET, tuple(evidence),
                          note="no osteoporosis diagnosis, fragility fracture or T-score <= -2.5",
                          reason=PopulationReason.NO_OSTEOPOROSIS)
    evidence.append(osteoporosis)
    return _criterion(knowledge, "population.romosozumab", Status.MET, tuple(evidence))


def _postmenopausal(record: PatientRecord, knowledge: Knowledge, as_of: date
                    ) -> tuple[Status, list[Evidence], str | None]:
    pre = first_condition(record, knowledge, "premenopausal", active_only=True)
    post = first_condition(record, knowledge, "postmenopausal")
    if post is not None:
        return Status.MET, [condition_evidence(post, "Postmenopausal (documented)")], None
    if pre is not None:
        return (Status.NOT_MET, [condition_evidence(pre, "Premenopausal (documented)")],
                "premenopausal: not in the labelled population")
    patient = record.patient
    assert patient is not None  # noqa: S101 - checked by the caller
    youngest, oldest = patient_age_bounds(patient, as_of)
    limit = int(knowledge.value("postmenopausal_age_years"))
    if youngest is not None and youngest >= limit:
        return Status.MET, [_age_evidence(patient, youngest)], None
    if oldest is not None and oldest < limit:
        return (Status.NOT_MET, [_age_evidence(patient, oldest)],
                "age under 50 without documented menopause: premenopausal")
    return Status.UNKNOWN, [], "menopausal status unknown (no birth date or documentation)"


def osteoporosis_evidence(record: PatientRecord, knowledge: Knowledge,
                          events: tuple[FractureEvent, ...], density: BoneDensity
                          ) -> Evidence | None:
    """The first evidence of osteoporosis: diagnosis, fragility fracture, or T-score <= -2.5."""
    diagnosis = has_osteoporosis_diagnosis(record, knowledge)
    if diagnosis is not None:
        return condition_evidence(diagnosis, "Osteoporosis diagnosis")
    fragility = next((e for e in events if e.fragility), None)
    if fragility is not None:
        return fragility.evidence()
    value = t_value(density.lowest_ever)
    if value is not None and value <= float(knowledge.value("osteoporosis_t_score")):
        return t_evidence(density.lowest_ever, knowledge)  # type: ignore[arg-type]
    return None


def risk_criteria(record: PatientRecord, knowledge: Knowledge, as_of: date,
                  events: tuple[FractureEvent, ...], density: BoneDensity,
                  uses: list[DrugUse]) -> tuple[CriterionResult, ...]:
    """Every enabled very-high-risk criterion; disabled ones (data) are not evaluated."""
    fragility = tuple(e for e in events if e.fragility)
    checks = {
        "very-high-risk.recent-fracture": lambda: _recent(knowledge, as_of, fragility),
        "very-high-risk.fracture-on-therapy": lambda: _on_therapy(
            knowledge, fragility, uses_of(uses, "osteoporosis-therapy"),
            "very-high-risk.fracture-on-therapy", 0),
        "very-high-risk.multiple-fractures": lambda: _multiple(knowledge, fragility),
        "very-high-risk.fracture-on-glucocorticoids": lambda: _on_therapy(
            knowledge, fragility, uses_of(uses, "glucocorticoid"),
            "very-high-risk.fracture-on-glucocorticoids",
            int(knowledge.value("glucocorticoid_min_months"))),
        "very-high-risk.very-low-t-score": lambda: _very_low_t(knowledge, density),
        "very-high-risk.falls": lambda: _falls(record, knowledge),
        "very-high-risk.frax": lambda: _frax(record, knowledge),
        "very-high-risk.older-age": lambda: _older_age(record, knowledge, as_of),
    }
    return tuple(check() for rule_id, check in checks.items()
                 if knowledge.rule(rule_id).enabled and _threshold_enabled(knowledge, rule_id))


def _threshold_enabled(knowledge: Knowledge, rule_id: str) -> bool:
    if rule_id == "very-high-risk.older-age":
        return knowledge.threshold("older_age_years").enabled
    return True


def _recent(knowledge: Knowledge, as_of: date, events: tuple[FractureEvent, ...]
            ) -> CriterionResult:
    start = months_before(as_of, int(knowledge.value("recent_fracture_months")))
    recent = tuple(e.evidence() for e in events if wholly_on_or_after(e.onset, start))
    if recent:
        return _criterion(knowledge, "very-high-risk.recent-fracture", Status.MET, recent)
    uncertain = tuple(e.evidence() for e in events if may_be_on_or_after(e.onset, start))
    note = "fracture date uncertain: the whole interval must fall within 12 months" \
        if uncertain else None
    return _criterion(knowledge, "very-high-risk.recent-fracture", Status.NOT_MET, uncertain,
                      note)


def _multiple(knowledge: Knowledge, events: tuple[FractureEvent, ...]) -> CriterionResult:
    status = Status.MET if len(events) >= 2 else Status.NOT_MET
    return _criterion(knowledge, "very-high-risk.multiple-fractures", status,
                      tuple(e.evidence() for e in events) if status is Status.MET else ())


def _on_therapy(knowledge: Knowledge, events: tuple[FractureEvent, ...], uses: list[DrugUse],
                rule_id: str, min_months: int) -> CriterionResult:
    # each use with the first day a fracture counts as "on" it (after `min_months` of therapy)
    covered = [(use, add_months(use.start, min_months), use.end) for use in uses
               if use.start is not None and use.end is not None]
    for event in events:
        if event.onset.earliest is None or event.onset.latest is None:
            continue
        for use, earliest_allowed, end in covered:
            if earliest_allowed <= event.onset.earliest and event.onset.latest <= end:
                drug = Evidence(use_description(use), reference=use.event.reference,
                                when=use.event.dose_date,
                                note=ONGOING_NOTE if ongoing(use.event) else None)
                return _criterion(knowledge, rule_id, Status.MET, (event.evidence(), drug))
    return _criterion(knowledge, rule_id, Status.NOT_MET)


def _very_low_t(knowledge: Knowledge, density: BoneDensity) -> CriterionResult:
    value = t_value(density.latest_study_lowest)
    if value is None:
        return _criterion(knowledge, "very-high-risk.very-low-t-score", Status.UNKNOWN,
                          note="no DXA T-score recorded")
    status = Status.MET if value < float(knowledge.value("very_low_t_score")) else Status.NOT_MET
    return _criterion(knowledge, "very-high-risk.very-low-t-score", status,
                      (t_evidence(density.latest_study_lowest, knowledge),))  # type: ignore[arg-type]


def _falls(record: PatientRecord, knowledge: Knowledge) -> CriterionResult:
    hit = first_condition(record, knowledge, "fall-risk", active_only=True)
    if hit is None:
        return _criterion(knowledge, "very-high-risk.falls", Status.NOT_MET)
    return _criterion(knowledge, "very-high-risk.falls", Status.MET,
                      (condition_evidence(hit, "Fall risk"),))


def frax_percent(result: Result) -> tuple[float, str | None]:
    """FRAX value in percent; explicit fraction units are scaled, unitless values are percent."""
    quantity = result.observation.value
    assert quantity is not None  # noqa: S101 - results carry values
    unit = (quantity.code or quantity.unit or "").strip().lower()
    if unit in {"1", "{fraction}", "fraction", "{ratio}", "ratio"}:
        return quantity.value * 100.0, "reported as a fraction"
    if unit in {"%", "percent", "pct"}:
        return quantity.value, None
    return quantity.value, "no unit: read as percent"


def _frax(record: PatientRecord, knowledge: Knowledge) -> CriterionResult:
    evidence: list[Evidence] = []
    met = False
    for kind, limit_name, label in (("frax-mof", "frax_mof_percent", "FRAX major osteoporotic"),
                                    ("frax-hip", "frax_hip_percent", "FRAX hip")):
        found = [r for r in results(record, knowledge, kind) if r.observation.value is not None]
        if not found:
            continue
        percent, note = frax_percent(found[0])
        evidence.append(Evidence(label, reference=found[0].observation.reference,
                                 when=found[0].observation.effective,
                                 value=f"{plain_number(percent)} %", note=note))
        met = met or percent > float(knowledge.value(limit_name))
    if not evidence:
        return _criterion(knowledge, "very-high-risk.frax", Status.UNKNOWN,
                          note="FRAX not recorded")
    return _criterion(knowledge, "very-high-risk.frax", Status.MET if met else Status.NOT_MET,
                      tuple(evidence))


def _older_age(record: PatientRecord, knowledge: Knowledge, as_of: date) -> CriterionResult:
    patient = record.patient
    if patient is None:
        return _criterion(knowledge, "very-high-risk.older-age", Status.UNKNOWN)
    if age_day(patient, as_of) is None:
        return _criterion(knowledge, "very-high-risk.older-age", Status.UNKNOWN,
                          note="deceased, date of death not recorded: age at death unknown")
    youngest, oldest = patient_age_bounds(patient, as_of)
    limit = int(knowledge.value("older_age_years"))
    if youngest is not None and youngest > limit:
        return _criterion(knowledge, "very-high-risk.older-age", Status.MET,
                          (_age_evidence(patient, youngest),))
    if oldest is not None and oldest <= limit:
        return _criterion(knowledge, "very-high-risk.older-age", Status.NOT_MET,
                          (_age_evidence(patient, oldest),))
    return _criterion(knowledge, "very-high-risk.older-age", Status.UNKNOWN,
                      note="birth date unknown or too imprecise")


def very_high_risk(knowledge: Knowledge, criteria: tuple[CriterionResult, ...]
                   ) -> CriterionResult:
    met = tuple(e for c in criteria if c.status is Status.MET for e in c.evidence)
    status = Status.MET if any(c.status is Status.MET for c in criteria) else Status.NOT_MET
    return _criterion(knowledge, "very-high-risk", status, met)
