"""The patient's key data beside the cards: what a clinician checks a card against.

Computed server-side from the `PatientRecord` the record layer parsed (the same parser the hooks
use), selected with the evaluation's own helpers (`labs.results` for T-scores and calcium,
`therapy.drug_uses` for medications, `dates.describe` for dates) and the knowledge terminology
(fracture sites, MI/stroke value sets), so the panel shows what the service itself sees. Plain
JSON out; the page inserts every string as text. No names or birth dates: age and sex only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from service.evaluation.assess import gap_sentences
from service.evaluation.dates import describe as date_text
from service.evaluation.dates import reference_day
from service.evaluation.labs import results
from service.evaluation.risk import patient_age_bounds
from service.evaluation.therapy import DrugUse, drug_uses, uses_of
from service.record.model import Condition, DateRange, Patient, PatientRecord

CV_VALUE_SETS = {
    "myocardial-infarction": "Myocardial infarction",
    "stroke": "Stroke",
    "stroke-history": "History of stroke",
}
OSTEOPOROSIS_THERAPY = "osteoporosis-therapy"
HOW_RECORDED = {"MedicationAdministration": "administered", "MedicationStatement": "reported",
                "MedicationRequest": "ordered; administration not recorded"}


def key_data_for(record: PatientRecord, as_of: date, knowledge: Any) -> dict[str, Any]:
    """`{"patient", "age", "sex", "asOf", "sections": [...], "notes": [...]}` for the page."""
    data: dict[str, Any] = {"patient": record.patient_id, "asOf": as_of.isoformat()}
    patient = record.patient
    if patient is not None:
        age = age_text(patient, as_of)
        if age is not None:
            data["age"] = age
        if patient.gender:
            data["sex"] = patient.gender
        if patient.deceased:
            data["sex"] = f"{patient.gender or 'unknown'} (deceased)"
            data["ageLabel"] = "Age at death"
    data["sections"] = [
        _section("fractures", "Fractures", _fractures(record.conditions, knowledge)),
        _section("t-scores", "DXA T-scores", _t_scores(record, knowledge)),
        _section("cv-events", "Myocardial infarction / stroke", _cv_events(record.conditions,
                                                                            knowledge)),
        _section("medications", "Osteoporosis medications (last dose)",
                 _medications(record, knowledge, as_of)),
        _section("calcium", "Serum calcium (latest)", _latest_calcium(record, knowledge)),
    ]
    notes = gap_sentences(record)  # the same sentences as the cards' "Data not available"
    if notes:
        data["notes"] = notes
    return data


def _section(section_id: str, title: str, items: list[dict[str, str]]) -> dict[str, Any]:
    section: dict[str, Any] = {"id": section_id, "title": title, "items": items}
    if not items:
        section["empty"] = "None recorded"
    return section


def age_text(patient: Patient, as_of: date) -> str | None:
    """Age in whole years as the evaluation counts it (`patient_age_bounds`): on `as_of`, or at
    death for a deceased patient; a range ("71-72") when the birth date is partial; None when
    unknown (no birth date, or deceased on an unknown date)."""
    youngest, oldest = patient_age_bounds(patient, as_of)
    if youngest is None or oldest is None:
        return None
    return str(oldest) if oldest == youngest else f"{youngest}-{oldest}"


def _sort_key(when: DateRange | None) -> date:
    """Newest first by the latest possible day, as the evaluation orders events; undated last."""
    return (reference_day(when) if when is not None else None) or date.min


def _label(codings: Iterable[Any], text: str | None, fallback: str) -> str:
    if text:
        return text
    for coding in codings:
        if coding.display:
            return coding.display
    return fallback


def _fractures(conditions: Iterable[Condition], knowledge: Any) -> list[dict[str, str]]:
    found = []
    for condition in conditions:
        match = knowledge.match_fracture(condition.codings)
        if match is None:
            continue
        label = _label(condition.codings, condition.text, match.site.label)
        value = match.site.label + (" (follow-up encounter code)" if match.follow_up else "")
        found.append((condition.onset, {"label": label, "value": value,
                                        "when": date_text(condition.onset)}))
    return [item for _, item in sorted(found, key=lambda pair: _sort_key(pair[0]), reverse=True)]


def _t_scores(record: PatientRecord, knowledge: Any) -> list[dict[str, str]]:
    """The T-scores the evaluation reads (usable statuses, with a value), newest first."""
    return [{
        "label": _label(result.observation.codings, result.observation.text, "T-score"),
        "value": f"{result.observation.value.value:g}",
        "when": date_text(result.observation.effective),
    } for result in results(record, knowledge, "t-score") if result.observation.value is not None]


def _cv_events(conditions: Iterable[Condition], knowledge: Any) -> list[dict[str, str]]:
    found = []
    for condition in conditions:
        matched = knowledge.value_sets_of(condition.codings)
        kinds = [title for vs, title in CV_VALUE_SETS.items() if vs in matched]
        if not kinds:
            continue
        found.append((condition.onset, {
            "label": _label(condition.codings, condition.text, kinds[0]),
            "value": kinds[0],
            "when": date_text(condition.onset),
        }))
    return [item for _, item in sorted(found, key=lambda pair: _sort_key(pair[0]), reverse=True)]


def _medications(record: PatientRecord, knowledge: Any, as_of: date) -> list[dict[str, str]]:
    """Per osteoporosis drug the evaluation counts: how many records, and the last dose."""
    latest: dict[str, tuple[DrugUse, int]] = {}
    for use in uses_of(drug_uses(record, knowledge, as_of), OSTEOPOROSIS_THERAPY):
        previous, count = latest.get(use.match.drug.id, (use, 0))
        if _sort_key(use.event.dose_date) > _sort_key(previous.event.dose_date):
            previous = use
        latest[use.match.drug.id] = (previous, count + 1)
    items = []
    for drug_id, (use, count) in latest.items():
        how = HOW_RECORDED[use.event.source_type]
        items.append((use.event.dose_date, {
            "label": knowledge.drug_display(drug_id),
            "value": f"{count} record{'s' if count != 1 else ''}",
            "when": f"last dose {date_text(use.event.dose_date)} ({how})",
        }))
    return [item for _, item in sorted(items, key=lambda pair: _sort_key(pair[0]), reverse=True)]


def _latest_calcium(record: PatientRecord, knowledge: Any) -> list[dict[str, str]]:
    """The newest total calcium with a value, as the evaluation finds it."""
    latest = next((result.observation for result in results(record, knowledge, "calcium-total")
                   if result.observation.value is not None), None)
    if latest is None or latest.value is None:
        return []
    unit = latest.value.unit or latest.value.code or ""
    return [{
        "label": _label(latest.codings, latest.text, "Calcium"),
        "value": f"{latest.value.value:g} {unit}".strip(),
        "when": date_text(latest.effective),
    }]
