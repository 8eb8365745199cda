"""The typed, per-request picture of one patient: what the evaluation reads.

Built from plain FHIR R4 JSON (prefetch or the EHR's FHIR server) by `service.record.gather`;
never from fhir.resources models on the request path (they cost ~140 us per resource).
Everything here is immutable, holds no bearer token and knows nothing of HTTP.

The types are frozen `msgspec.Struct`s rather than frozen dataclasses: a request builds a few
hundred of them, and a Struct is built 6-12x faster (a frozen slots dataclass sets each field
through `object.__setattr__`; docs/performance.md). They compare, hash and print like frozen
dataclasses; `msgspec.structs.replace` is `dataclasses.replace`. None holds a mutable value, so
none can be part of a reference cycle: they are left out of garbage collection (`gc=False`).

Dates are uncertain in real records, so every clinical date is a `DateRange`: the true date
lies in [earliest, latest] (both inclusive). A partial FHIR date "2025" is 2025-01-01..2025-12-31;
"no date known" is an explicit state (both ends None), never today.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from msgspec import Struct


class DateSource(StrEnum):
    """Where a date came from; cards word it differently ("recorded on" for RECORDED)."""

    DATE_TIME = "dateTime"  # onsetDateTime / effectiveDateTime / authoredOn, full or partial
    PERIOD = "period"  # onsetPeriod / effectivePeriod
    AGE = "age"  # onsetAge or onsetRange with the birth date
    RECORDED = "recorded"  # only Condition.recordedDate: an upper bound, earliest unknown
    UNKNOWN = "unknown"  # no date at all


class DateRange(Struct, frozen=True, gc=False):
    """An uncertain date; `earliest`/`latest` None means unbounded on that side."""

    earliest: date | None
    latest: date | None
    source: DateSource

    @classmethod
    def unknown(cls) -> DateRange:
        return cls(None, None, DateSource.UNKNOWN)

    @classmethod
    def exact(cls, day: date, source: DateSource = DateSource.DATE_TIME) -> DateRange:
        return cls(day, day, source)

    @property
    def is_known(self) -> bool:
        return self.earliest is not None or self.latest is not None

    @property
    def is_exact(self) -> bool:
        return self.earliest is not None and self.earliest == self.latest


class Coding(Struct, frozen=True, gc=False):
    system: str | None
    code: str
    display: str | None = None


class Quantity(Struct, frozen=True, gc=False):
    value: float
    unit: str | None = None  # human unit as sent (Quantity.unit)
    system: str | None = None
    code: str | None = None  # UCUM code when sent (Quantity.code)


class Patient(Struct, frozen=True, gc=False):
    id: str
    gender: str | None  # FHIR administrative gender: male | female | other | unknown
    birth_date: DateRange  # partial birthDate gives a range; UNKNOWN when absent
    deceased: bool
    deceased_date: date | None = None


INACTIVE_CLINICAL_STATUSES = frozenset({"inactive", "remission", "resolved"})


def condition_label(codings: tuple[Coding, ...], text: str | None) -> str:
    """How a clinician would name a Condition: its text, a coding's display, else system|code."""
    if text:
        return text
    named = next((c.display for c in codings if c.display), None)
    if named:
        return named
    return ", ".join(f"{c.system or '?'}|{c.code}" for c in codings) or "no code or text"


class Condition(Struct, frozen=True, gc=False):
    reference: str  # "Condition/<id>" (or the fullUrl when the resource has no id)
    codings: tuple[Coding, ...]
    text: str | None
    clinical_status: str | None  # active | recurrence | relapse | inactive | remission | resolved
    verification_status: str | None  # confirmed, provisional...; refuted and e-i-e dropped
    categories: tuple[str, ...]  # problem-list-item | encounter-diagnosis | health-concern | ...
    onset: DateRange
    recorded_date: date | None = None
    abatement: DateRange | None = None
    abated: bool = False  # any abatement[x] sent (a date, age, period, true or a text)

    @property
    def is_inactive(self) -> bool:
        """Inactive, in remission or resolved; with no clinicalStatus, abated (R4 con-4:
        an abated condition is inactive, resolved or in remission)."""
        if self.clinical_status is None:
            return self.abated
        return self.clinical_status in INACTIVE_CLINICAL_STATUSES


class MedicationSourceType(StrEnum):
    ADMINISTRATION = "MedicationAdministration"
    STATEMENT = "MedicationStatement"
    REQUEST = "MedicationRequest"


class MedicationEvent(Struct, frozen=True, gc=False):
    """A medication record that counts as therapy given (issue 3's table).

    `dose_date` is the date of the dose per its type: administration effective date,
    statement effective date (period end, else start), request authoredOn ("ordered;
    administration not recorded"). `period_start`/`period_end` keep a statement's or
    request's effective period so "on therapy since" can be judged.
    """

    reference: str  # "MedicationAdministration/<id>"
    source_type: MedicationSourceType
    codings: tuple[Coding, ...]  # from medicationCodeableConcept or the resolved Medication.code
    text: str | None
    status: str
    dose_date: DateRange
    period_start: date | None = None
    period_end: date | None = None
    dose_quantity: Quantity | None = None


class Observation(Struct, frozen=True, gc=False):
    reference: str
    codings: tuple[Coding, ...]
    text: str | None
    status: str
    effective: DateRange
    value: Quantity | None = None
    value_codings: tuple[Coding, ...] = ()  # valueCodeableConcept (e.g. smoking status)
    value_text: str | None = None  # valueString
    interpretation: tuple[str, ...] = ()  # interpretation codes, e.g. ("L",)
    reference_low: Quantity | None = None
    reference_high: Quantity | None = None


class DraftOrder(Struct, frozen=True, gc=False):
    """An order from context.draftOrders: never history, only what the clinician is ordering."""

    reference: str  # "MedicationRequest/<id>": the resourceId a delete action uses
    resource_type: str
    codings: tuple[Coding, ...]
    text: str | None
    selected: bool  # listed in context.selections (order-select)
    status: str | None = None


class DataGap(Struct, frozen=True, gc=False):
    """Data the service could not see, said in the card detail.

    `partial=True` means absence of evidence in this type is not evidence of absence:
    no proposal may rest on it (issue 3: "never made from partial data").
    """

    resource_type: str
    reason: str  # text without tokens or patient data, e.g. "not supported by the FHIR server"
    partial: bool = True


class PatientRecord(Struct, frozen=True, gc=False):
    patient_id: str
    patient: Patient | None  # None: the EHR said it has no Patient data (prefetch null)
    conditions: tuple[Condition, ...] = ()
    medications: tuple[MedicationEvent, ...] = ()
    observations: tuple[Observation, ...] = ()
    draft_orders: tuple[DraftOrder, ...] = ()
    data_gaps: tuple[DataGap, ...] = ()
    # Conditions left out by the request path's filter that no rule could read (text only, or
    # coded only in systems the knowledge does not read), by name: said on the cards
    unread_conditions: tuple[str, ...] = ()

    @property
    def is_complete(self) -> bool:
        return not any(gap.partial for gap in self.data_gaps)

    @property
    def selected_orders(self) -> tuple[DraftOrder, ...]:
        return tuple(order for order in self.draft_orders if order.selected)
