"""Medication history as coverage periods per knowledge drug (for "fracture on therapy")."""

from __future__ import annotations

from datetime import date

from service.evaluation.dates import add_months, reference_day
from service.evaluation.facts import DrugUse
from service.knowledge import Knowledge
from service.knowledge.knowledge import DrugMatch
from service.record.model import (
    DateSource,
    MedicationEvent,
    MedicationSourceType,
    PatientRecord,
)

ONGOING_STATUSES = frozenset({"active", "in-progress", "on-hold"})
# Beside the start date of a use still going on: the date is when it began, not its only dose
ONGOING_NOTE = "started then, still in use"
# How a medication record reads to a clinician (not the FHIR resource type).
RECORDED_AS = {MedicationSourceType.ADMINISTRATION: "administered",
               MedicationSourceType.STATEMENT: "reported",
               MedicationSourceType.REQUEST: "prescribed"}


def drug_uses(record: PatientRecord, knowledge: Knowledge, as_of: date) -> list[DrugUse]:
    """Every medication event matched to a knowledge drug that counts (oncology etc. excluded)."""
    uses: list[DrugUse] = []
    for event in record.medications:
        strength = ""
        if event.dose_quantity is not None:
            strength = f"{event.dose_quantity.value:g} {event.dose_quantity.unit or ''}"
        match = knowledge.match_drug(event.codings, event.text, strength)
        if match is None or not match.counts:
            continue
        uses.append(_use(event, match, as_of))
    return uses


def ongoing(event: MedicationEvent) -> bool:
    """A statement or order of use still going on (active or on-hold, no period end)."""
    return (event.source_type is not MedicationSourceType.ADMINISTRATION
            and event.status in ONGOING_STATUSES and event.period_end is None)


def last_dose_unrecorded(event: MedicationEvent) -> bool:
    """A statement of ongoing use dated by its period's start (issue 3: no effectiveDateTime,
    no end): the date says when use began; when the last dose was given is not recorded."""
    return (event.source_type is MedicationSourceType.STATEMENT and ongoing(event)
            and event.dose_date.source is DateSource.PERIOD)


def _use(event: MedicationEvent, match: DrugMatch, as_of: date) -> DrugUse:
    dose_day = reference_day(event.dose_date)
    start = event.period_start or event.dose_date.earliest or dose_day
    if ongoing(event):
        end: date | None = as_of
    elif event.period_end is not None:
        end = event.period_end
    else:
        end = add_months(dose_day, match.drug.coverage_months) if dose_day else None
    return DrugUse(event, match, dose_day, start, end)


def uses_of(uses: list[DrugUse], drug_class: str) -> list[DrugUse]:
    return [u for u in uses if drug_class in u.match.drug.classes]


def in_use_on(uses: list[DrugUse], drug_class: str, as_of: date) -> list[DrugUse]:
    """Uses of a drug class whose coverage includes `as_of` (ongoing therapy ends on `as_of`)."""
    return [u for u in uses_of(uses, drug_class)
            if u.end is not None and u.end >= as_of and (u.start is None or u.start <= as_of)]


def use_description(use: DrugUse) -> str:
    """The medication as the record names it, and how it was recorded: "Alendronic acid 10 MG
    Oral Tablet (prescribed)". The knowledge display (a standard regimen) only when the record
    names nothing, so a card never states a regimen the patient's record does not."""
    event = use.event
    named = event.text or next((c.display for c in event.codings if c.display), None)
    return f"{named or use.match.drug.display} ({RECORDED_AS[event.source_type]})"
