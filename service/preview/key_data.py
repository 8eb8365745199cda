"""The patient's key data beside the cards: what a clinician checks a card against.

Computed server-side from the `PatientRecord` the record layer parsed (the same parser the hooks
use) and classified with the knowledge terminology (fracture sites, T-score LOINC codes, MI/stroke
value sets, osteoporosis drugs), so the panel shows what the service itself sees. Plain JSON out;
the page inserts every string as text. No names or birth dates: age and sex only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from service.evaluation.assess import _gap_sentences as gap_sentences
from service.evaluation.risk import patient_age_bounds
from service.record.model import (
    Condition,
    DateRange,
    DateSource,
    MedicationEvent,
    Observation,
    Patient,
    PatientRecord,
)

CV_VALUE_SETS = {
    "myocardial-infarction": "Myocardial infarction",
    "stroke": "Stroke",
    "stroke-history": "History of stroke",
}
OSTEOPOROSIS_THERAPY = "osteoporosis-therapy"


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
        _section("t-scores", "DXA T-scores", _t_scores(record.observations, knowledge)),
        _section("cv-events", "Myocardial infarction / stroke", _cv_events(record.conditions,
                                                                            knowledge)),
        _section("medications", "Osteoporosis medications (last dose)",
                 _medications(record.medications, knowledge)),
        _section("calcium", "Serum calcium (latest)", _latest_calcium(record.observations,
                                                                      knowledge)),
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


def date_text(when: DateRange | None) -> str:
    """A clinician-readable uncertain date."""
    if when is None or not when.is_known:
        return "date unknown"
    if when.source is DateSource.RECORDED or when.earliest is None:
        return f"recorded by {when.latest}" if when.latest else "date unknown"
    if when.is_exact or when.latest is None:
        return str(when.earliest)
    return f"between {when.earliest} and {when.latest}"


def _sort_key(when: DateRange | None) -> date:
    if when is None:
        return date.min
    return when.latest or when.earliest or date.min


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


def _t_scores(observations: Iterable[Observation], knowledge: Any) -> list[dict[str, str]]:
    found = []
    for observation in observations:
        match = knowledge.match_observation(observation.codings, observation.text)
        if match is None or match.kind != "t-score" or observation.value is None:
            continue
        label = _label(observation.codings, observation.text, "T-score")
        found.append((observation.effective, {
            "label": label,
            "value": f"{observation.value.value:g}",
            "when": date_text(observation.effective),
        }))
    return [item for _, item in sorted(found, key=lambda pair: _sort_key(pair[0]), reverse=True)]


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


def _medications(events: Iterable[MedicationEvent], knowledge: Any) -> list[dict[str, str]]:
    latest: dict[str, tuple[MedicationEvent, int]] = {}
    for event in events:
        strength = f"{event.dose_quantity.value:g} {event.dose_quantity.unit or ''}" \
            if event.dose_quantity else ""
        match = knowledge.match_drug(event.codings, event.text, strength)
        if match is None or not match.counts or OSTEOPOROSIS_THERAPY not in match.drug.classes:
            continue
        drug_id = match.drug.id
        previous, count = latest.get(drug_id, (None, 0))
        if previous is None or _sort_key(event.dose_date) > _sort_key(previous.dose_date):
            previous = event
        latest[drug_id] = (previous, count + 1)
    items = []
    for drug_id, (event, count) in latest.items():
        how = {"MedicationAdministration": "administered", "MedicationStatement": "reported",
               "MedicationRequest": "ordered; administration not recorded"}[event.source_type]
        items.append((event.dose_date, {
            "label": knowledge.drug_display(drug_id),
            "value": f"{count} record{'s' if count != 1 else ''}",
            "when": f"last dose {date_text(event.dose_date)} ({how})",
        }))
    return [item for _, item in sorted(items, key=lambda pair: _sort_key(pair[0]), reverse=True)]


def _latest_calcium(observations: Iterable[Observation], knowledge: Any) -> list[dict[str, str]]:
    latest: Observation | None = None
    for observation in observations:
        match = knowledge.match_observation(observation.codings, observation.text)
        if match is None or match.kind != "calcium-total" or observation.value is None:
            continue
        if latest is None or _sort_key(observation.effective) > _sort_key(latest.effective):
            latest = observation
    if latest is None or latest.value is None:
        return []
    unit = latest.value.unit or latest.value.code or ""
    return [{
        "label": _label(latest.codings, latest.text, "Calcium"),
        "value": f"{latest.value.value:g} {unit}".strip(),
        "when": date_text(latest.effective),
    }]
