"""Small builders of PatientRecord dataclasses for the evaluation tests (dates from AS_OF)."""

from __future__ import annotations

from datetime import date
from itertools import count

from dateutil.relativedelta import relativedelta

from service.record.model import (
    Coding,
    Condition,
    DataGap,
    DateRange,
    DateSource,
    DraftOrder,
    MedicationEvent,
    MedicationSourceType,
    Observation,
    Patient,
    PatientRecord,
    Quantity,
)

AS_OF = date(2026, 6, 15)
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
_ids = count(1)


def ago(years: int = 0, months: int = 0, days: int = 0, as_of: date = AS_OF) -> date:
    return as_of - relativedelta(years=years, months=months, days=days)


def patient(age: int = 72, gender: str = "female", deceased: bool = False,
            born: date | None = None) -> Patient:
    birth = born or ago(years=age, days=30)
    return Patient("p1", gender, DateRange.exact(birth), deceased)


def condition(system: str, code: str, onset: date | DateRange | None = None,
              status: str = "active", recorded: date | None = None,
              category: str = "problem-list-item") -> Condition:
    if isinstance(onset, date):
        onset = DateRange.exact(onset)
    if onset is None and recorded is not None:  # as parse.condition_onset reads recordedDate
        onset = DateRange(None, recorded, DateSource.RECORDED)
    return Condition(f"Condition/c{next(_ids)}", (Coding(system, code),), None, status,
                     "confirmed", (category,), onset or DateRange.unknown(), recorded)


def med(rxcui: str, day: date | None, source: str = "MedicationAdministration",
        status: str = "completed", period_start: date | None = None,
        period_end: date | None = None, text: str | None = None) -> MedicationEvent:
    kind = MedicationSourceType(source)
    when = DateRange.exact(day) if day else DateRange.unknown()
    codings = (Coding(RX, rxcui),) if rxcui else ()
    return MedicationEvent(f"{source}/m{next(_ids)}", kind, codings, text, status, when,
                           period_start, period_end)


def obs(loinc: str, value: float, unit: str, day: date, low: float | None = None,
        interpretation: tuple[str, ...] = (), system: str = LOINC, text: str | None = None,
        value_codings: tuple[Coding, ...] = ()) -> Observation:
    ref_low = Quantity(low, unit) if low is not None else None
    return Observation(f"Observation/o{next(_ids)}", (Coding(system, loinc),), text, "final",
                       DateRange.exact(day), Quantity(value, unit, code=unit), value_codings,
                       None, interpretation, ref_low)


def smoking(code: str, day: date) -> Observation:
    return Observation(f"Observation/o{next(_ids)}", (Coding(LOINC, "72166-2"),), None, "final",
                       DateRange.exact(day), None, (Coding(SCT, code),))


def smoking_text(answer: str, day: date) -> Observation:
    """Smoking status answered in text only (valueCodeableConcept.text or valueString)."""
    return Observation(f"Observation/o{next(_ids)}", (Coding(LOINC, "72166-2"),), None, "final",
                       DateRange.exact(day), None, (), answer)


def draft(rxcui: str, selected: bool = True) -> DraftOrder:
    return DraftOrder(f"MedicationRequest/d{next(_ids)}", "MedicationRequest",
                      (Coding(RX, rxcui),), None, selected, "draft")


def record(*items, pat: Patient | None = None, gaps: tuple[DataGap, ...] = (),
           no_patient: bool = False) -> PatientRecord:
    conditions = tuple(i for i in items if isinstance(i, Condition))
    meds = tuple(i for i in items if isinstance(i, MedicationEvent))
    observations = tuple(i for i in items if isinstance(i, Observation))
    drafts = tuple(i for i in items if isinstance(i, DraftOrder))
    return PatientRecord("p1", None if no_patient else (pat or patient()), conditions, meds,
                         observations, drafts, gaps)


OSTEOPOROSIS = (SCT, "64859006")
CALCIUM_OK = ("17861-6", 9.4, "mg/dL")


def osteoporosis(**kwargs) -> Condition:
    return condition(*OSTEOPOROSIS, **kwargs)


def calcium(value: float = 9.4, day: date | None = None, **kwargs) -> Observation:
    return obs("17861-6", value, "mg/dL", day or ago(months=1), **kwargs)


def t_score(value: float, code: str = "38267-1", day: date | None = None) -> Observation:
    return obs(code, value, "{T-score}", day or ago(months=3))
