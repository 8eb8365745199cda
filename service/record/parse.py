"""Plain FHIR R4 JSON -> the record's types (no fhir.resources on the request path).

Every function here is pure: it reads dicts and returns `service.record.model` objects. Resources
that do not count (entered-in-error, refuted, cancelled, a request that is not an active or
completed order...) come back as None. Dates keep the date part exactly as written: a time zone
never moves a day ("2024-03-01T23:30:00-05:00" is 2024-03-01).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from service.record.model import (
    Coding,
    Condition,
    DateRange,
    DateSource,
    DraftOrder,
    MedicationEvent,
    MedicationSourceType,
    Observation,
    Patient,
    Quantity,
)
from service.record.shape import is_mapping as _is_mapping

_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?$")

# resolves a medicationReference to the Medication resource, or None when it cannot
MedicationResolver = Callable[[dict[str, Any], dict[str, Any]], "dict[str, Any] | None"]

CONDITION_SKIPPED_VERIFICATION = frozenset({"entered-in-error", "refuted"})
ADMINISTRATION_COUNTED = frozenset({"completed", "in-progress"})
# Statements and requests that say doses were taken or given: active and completed (issue 3),
# and stopped or on-hold, which R4 defines as halted after it began ("the medication was stopped
# being taken"; "permanently halted, before all of them occurred"): a denosumab order the EHR
# marked stopped is the discontinuation the rebound warning is about.
STATEMENT_COUNTED = frozenset({"active", "completed", "stopped", "on-hold"})
REQUEST_COUNTED = frozenset({"active", "completed", "stopped", "on-hold"})
# intent `order` and its specialisations in the R4 request-intent code system (not proposal or
# plan: nothing was ordered)
REQUEST_ORDER_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order",
                                   "instance-order"})
OBSERVATION_SKIPPED = frozenset({"cancelled", "entered-in-error"})

_AGE_UNITS: dict[str, Callable[[float], relativedelta]] = {
    "a": lambda v: relativedelta(years=int(v)),
    "mo": lambda v: relativedelta(months=int(v)),
    "wk": lambda v: relativedelta(weeks=int(v)),
    "d": lambda v: relativedelta(days=int(v)),
}
_AGE_UNIT_ALIASES = {"year": "a", "years": "a", "yr": "a", "month": "mo", "months": "mo",
                     "week": "wk", "weeks": "wk", "day": "d", "days": "d"}
MAX_AGE_VALUE = 100_000  # days in ~270 years: anything larger is not an age
_AGE_NEXT = {"a": relativedelta(years=1), "mo": relativedelta(months=1),
             "wk": relativedelta(weeks=1), "d": relativedelta(days=1)}


def parse_date(value: Any, source: DateSource = DateSource.DATE_TIME) -> DateRange | None:
    """A FHIR date/dateTime/instant as a range: "2021" is the whole year, "2021-07" the month.

    Only the date part as written is used (no time-zone conversion). None when not a FHIR date.
    """
    if not isinstance(value, str):
        return None
    if _looks_like_plain_day(value):
        try:  # C-speed for the common case; anything it refuses takes the general path below
            day_value = date.fromisoformat(value[:10])
        except ValueError:
            pass
        else:
            return DateRange(day_value, day_value, source)
    return _parse_any_date(value, source)


def _parse_any_date(value: str, source: DateSource) -> DateRange | None:
    """`parse_date` by the regular expression alone: every shape, and the reference its fast
    path must agree with (tests/record/test_parse.py)."""
    match = _FHIR_DATE.match(value.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        if month is None:
            return DateRange(date(int(year), 1, 1), date(int(year), 12, 31), source)
        if day is None:
            last = calendar.monthrange(int(year), int(month))[1]
            return DateRange(date(int(year), int(month), 1), date(int(year), int(month), last),
                             source)
        day_value = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return DateRange(day_value, day_value, source)


def _looks_like_plain_day(value: str) -> bool:
    """"YYYY-MM-DD", alone or followed by "T" and no line break: the shape `_FHIR_DATE` reads as
    one day. `date.fromisoformat` then accepts it exactly when its year, month and day are ASCII
    digits of a real date (week dates like "2021-W01-1" fail the shape test: no "-" at 7)."""
    return (
        len(value) >= 10 and value[4] == "-" and value[7] == "-"
        and (len(value) == 10 or (value[10] == "T" and "\n" not in value))
    )


def parse_period(period: Any) -> DateRange | None:
    """A Period as the range [start's earliest, end's latest]; None without start and end."""
    if not _is_mapping(period):
        return None
    start = parse_date(period.get("start"))
    end = parse_date(period.get("end"))
    if start is None and end is None:
        return None
    return DateRange(start.earliest if start else None, end.latest if end else None,
                     DateSource.PERIOD)


# Other spellings of the code systems the knowledge reads, to their FHIR URIs: the HL7 OIDs
# (HL7 Terminology 5.2.0, "External Code Systems": SNOMED CT 2.16.840.1.113883.6.96, RxNorm
# .6.88, LOINC .6.1; CodeSystem icd10CM: ICD-10-CM 2.16.840.1.113883.6.90) and the URIs with a
# trailing slash. WHO ICD-10 (http://hl7.org/fhir/sid/icd-10, OID .6.3) is another code system,
# not an alias of ICD-10-CM.
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "http://snomed.info/sct/": "http://snomed.info/sct",
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://www.nlm.nih.gov/research/umls/rxnorm/": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "http://loinc.org/": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/icd-10-cm/": "http://hl7.org/fhir/sid/icd-10-cm",
}


def codings_of(concept: Any) -> tuple[Coding, ...]:
    """The codings of a CodeableConcept that carry a code (code systems by their FHIR URI:
    `SYSTEM_ALIASES`)."""
    if not _is_mapping(concept):
        return ()
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return ()
    found = []
    for c in codings:
        if _is_mapping(c):
            code = c.get("code")
            if isinstance(code, str) and code:
                system, display = c.get("system"), c.get("display")
                if not isinstance(system, str) or not system:
                    system = None
                elif system[-1] == "/" or system.startswith("urn:oid:"):  # an alias's shape
                    system = SYSTEM_ALIASES.get(system, system)
                found.append(Coding(system, code,
                                    display if isinstance(display, str) and display else None))
    return tuple(found)


def codes_of(concept: Any) -> Iterator[str]:
    """The codes of `codings_of(concept)`, without building the codings. (The same walk as
    `codings_of`, written twice on purpose: a shared generator made record parsing 15 % slower.)"""
    if not _is_mapping(concept):
        return
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return
    for c in codings:
        if _is_mapping(c):
            code = c.get("code")
            if isinstance(code, str) and code:
                yield code


def text_of(concept: Any, codings: tuple[Coding, ...] | None = None) -> str | None:
    """CodeableConcept.text, else the first coding's display (`codings`: its `codings_of`,
    when the caller has them already)."""
    if not _is_mapping(concept):
        return None
    text = _str(concept.get("text"))
    if text:
        return text
    if codings is None:
        codings = codings_of(concept)
    return next((c.display for c in codings if c.display), None)


def first_code(concept: Any) -> str | None:
    """The code of the first coding that has one."""
    return next(codes_of(concept), None)


def parse_quantity(value: Any) -> Quantity | None:
    """A FHIR Quantity with a numeric value, else None."""
    if value is None or not _is_mapping(value):
        return None
    number = value.get("value")
    if type(number) is not float:  # float is the common case; bool is an int, not a number
        if isinstance(number, bool) or not isinstance(number, int | float):
            return None
        try:
            number = float(number)
        except OverflowError:  # an integer too large for a float
            return None
    if not math.isfinite(number):  # Python's json accepts NaN and Infinity
        return None
    return Quantity(number, _str(value.get("unit")), _str(value.get("system")),
                    _str(value.get("code")))


def reference_of(resource: dict[str, Any], full_url: str | None = None) -> str:
    """"Type/id", else the entry's fullUrl, else the bare type."""
    resource_type = str(resource.get("resourceType", ""))
    resource_id = resource.get("id")
    if isinstance(resource_id, str) and resource_id:
        return f"{resource_type}/{resource_id}"
    return full_url or resource_type


def parse_patient(resource: dict[str, Any]) -> Patient:
    """The Patient's gender, birth date range and deceased state."""
    deceased_date_range = parse_date(resource.get("deceasedDateTime"))
    deceased_flag = resource.get("deceasedBoolean") is True
    return Patient(
        id=str(resource.get("id", "")),
        gender=_str(resource.get("gender")),
        birth_date=parse_date(resource.get("birthDate")) or DateRange.unknown(),
        deceased=deceased_flag or deceased_date_range is not None,
        deceased_date=deceased_date_range.earliest if deceased_date_range else None,
    )


def counts_as_condition(resource: dict[str, Any]) -> bool:
    """Not entered-in-error or refuted (what `parse_condition` drops)."""
    return first_code(resource.get("verificationStatus")) not in CONDITION_SKIPPED_VERIFICATION


def parse_condition(
    resource: dict[str, Any], birth_date: DateRange | None, full_url: str | None = None,
    codings: tuple[Coding, ...] | None = None,
) -> Condition | None:
    """A Condition, or None when entered-in-error or refuted (`codings`: `codings_of` its code,
    when the caller has them already)."""
    verification = first_code(resource.get("verificationStatus"))
    if verification in CONDITION_SKIPPED_VERIFICATION:
        return None
    recorded = parse_date(resource.get("recordedDate"))
    categories = tuple(code for concept in _list(resource.get("category"))
                       for code in codes_of(concept))
    if codings is None:
        codings = codings_of(resource.get("code"))
    return Condition(
        reference=reference_of(resource, full_url),
        codings=codings,
        text=text_of(resource.get("code"), codings),
        clinical_status=first_code(resource.get("clinicalStatus")),
        verification_status=verification,
        categories=categories,
        onset=condition_onset(resource, birth_date, recorded),
        recorded_date=recorded.latest if recorded else None,
        abatement=_timing(resource, "abatement", birth_date),
        abated=_abated(resource),
    )


_ABATEMENT_VALUES = ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementRange",
                     "abatementString")


def _abated(resource: dict[str, Any]) -> bool:
    """Whether the Condition says it abated, in any abatement[x] form (abatementBoolean false
    says it did not)."""
    if resource.get("abatementBoolean") is True:
        return True
    for key in _ABATEMENT_VALUES:
        value = resource.get(key)
        if value is not None and value != "":
            return True
    return False


def condition_onset(
    resource: dict[str, Any], birth_date: DateRange | None, recorded: DateRange | None
) -> DateRange:
    """onset[x] as a range; recordedDate only bounds it from above; UNKNOWN when nothing."""
    onset = _timing(resource, "onset", birth_date)
    recorded_latest = recorded.latest if recorded else None
    if onset is None:
        if recorded_latest is None:
            return DateRange.unknown()
        return DateRange(None, recorded_latest, DateSource.RECORDED)
    if onset.latest is None and recorded_latest is not None:
        return DateRange(onset.earliest, recorded_latest, onset.source)
    return onset


def _timing(resource: dict[str, Any], prefix: str, birth_date: DateRange | None
            ) -> DateRange | None:
    """onset[x] / abatement[x]: dateTime, Period, Age or Range of ages (with the birth date)."""
    by_date = parse_date(resource.get(f"{prefix}DateTime"))
    if by_date is not None:
        return by_date
    by_period = parse_period(resource.get(f"{prefix}Period"))
    if by_period is not None:
        return by_period
    if birth_date is None or not birth_date.is_known:
        return None
    age = resource.get(f"{prefix}Age")
    if _is_mapping(age):
        return _age_range(birth_date, age, age)
    age_range = resource.get(f"{prefix}Range")
    if _is_mapping(age_range):
        return _age_range(birth_date, age_range.get("low"), age_range.get("high"))
    return None


def _age_range(birth: DateRange, low: Any, high: Any) -> DateRange | None:
    """The dates at which a person born in `birth` was between ages `low` and `high`."""
    earliest = latest = None
    low_age, high_age = _age(low), _age(high)
    if low_age is None and high_age is None:
        return None
    try:
        if low_age is not None and birth.earliest is not None:
            earliest = birth.earliest + low_age[0]
        if high_age is not None and birth.latest is not None:
            latest = birth.latest + high_age[0] + _AGE_NEXT[high_age[1]] - timedelta(days=1)
    except (OverflowError, ValueError):  # an age beyond the calendar: not a usable date
        return None
    return DateRange(earliest, latest, DateSource.AGE)


def _age(value: Any) -> tuple[relativedelta, str] | None:
    quantity = parse_quantity(value)
    if quantity is None or quantity.value < 0:
        return None
    unit = quantity.code or quantity.unit or "a"
    unit = _AGE_UNIT_ALIASES.get(unit.lower(), unit)
    if unit not in _AGE_UNITS or quantity.value > MAX_AGE_VALUE:
        return None
    return _AGE_UNITS[unit](quantity.value), unit


def parse_medication(
    resource: dict[str, Any],
    resolve: MedicationResolver,
    full_url: str | None = None,
) -> MedicationEvent | None:
    """A MedicationAdministration/Statement/Request that counts as therapy given, else None."""
    resource_type = resource.get("resourceType")
    status = _str(resource.get("status")) or ""
    if resource_type == "MedicationAdministration":
        if status not in ADMINISTRATION_COUNTED:
            return None
        period = parse_period(resource.get("effectivePeriod"))
        dose_date = (parse_date(resource.get("effectiveDateTime"))
                     or _period_bound(resource.get("effectivePeriod"), "start"))
        dosage = resource.get("dosage")
        dose = parse_quantity(dosage.get("dose")) if _is_mapping(dosage) else None
        source_type = MedicationSourceType.ADMINISTRATION
    elif resource_type == "MedicationStatement":
        if status not in STATEMENT_COUNTED:
            return None
        period = parse_period(resource.get("effectivePeriod"))
        dose_date = (parse_date(resource.get("effectiveDateTime"))
                     or _period_bound(resource.get("effectivePeriod"), "end")
                     or _period_bound(resource.get("effectivePeriod"), "start"))
        dose = _dose_and_rate(_list(resource.get("dosage")))
        source_type = MedicationSourceType.STATEMENT
    elif resource_type == "MedicationRequest":
        intent = resource.get("intent")
        if status not in REQUEST_COUNTED or not (
                isinstance(intent, str) and intent in REQUEST_ORDER_INTENTS):
            return None
        period = None
        dose_date = parse_date(resource.get("authoredOn"))
        dose = _dose_and_rate(_list(resource.get("dosageInstruction")))
        source_type = MedicationSourceType.REQUEST
    else:
        return None
    codings, text = medication_concept(resource, resolve)
    return MedicationEvent(
        reference=reference_of(resource, full_url),
        source_type=source_type,
        codings=codings,
        text=text,
        status=status,
        dose_date=dose_date or DateRange.unknown(),
        period_start=period.earliest if period else None,
        period_end=period.latest if period else None,
        dose_quantity=dose,
    )


def medication_concept(
    resource: dict[str, Any], resolve: MedicationResolver
) -> tuple[tuple[Coding, ...], str | None]:
    """Codings and text from medicationCodeableConcept or the resolved medicationReference."""
    concept = resource.get("medicationCodeableConcept")
    if _is_mapping(concept):
        return codings_of(concept), text_of(concept)
    reference = resource.get("medicationReference")
    if not _is_mapping(reference):
        return (), None
    medication = resolve(resource, reference)
    if medication is not None:
        code = medication.get("code")
        return codings_of(code), text_of(code) or _str(reference.get("display"))
    return (), _str(reference.get("display"))


def parse_observation(
    resource: dict[str, Any], full_url: str | None = None,
    codings: tuple[Coding, ...] | None = None, text: str | None = None,
) -> Observation | None:
    """An Observation with its date, value and reference range; None when cancelled or e-i-e.

    `codings` and `text`: `codings_of` and `text_of` its code, when the caller has them."""
    status = _str(resource.get("status")) or ""
    if status in OBSERVATION_SKIPPED:
        return None
    if codings is None:
        codings = codings_of(resource.get("code"))
        text = text_of(resource.get("code"), codings)
    # `issued` (when the result was released) only when no effective[x] is sent: a result is
    # released on or after it is taken, so it is the closest date the record gives
    effective = (parse_date(resource.get("effectiveDateTime"))
                 or parse_period(resource.get("effectivePeriod"))
                 or parse_date(resource.get("effectiveInstant"))
                 or parse_date(resource.get("issued"))
                 or DateRange.unknown())
    reference_range = next(iter(_list(resource.get("referenceRange"))), None)
    if not _is_mapping(reference_range):
        reference_range = {}
    return Observation(
        reference=reference_of(resource, full_url),
        codings=codings,
        text=text,
        status=status,
        effective=effective,
        value=parse_quantity(resource.get("valueQuantity")),
        value_codings=codings_of(resource.get("valueCodeableConcept")),
        value_text=_str(resource.get("valueString")) or (
            text_of(resource.get("valueCodeableConcept"))),
        interpretation=tuple(code for concept in _list(resource.get("interpretation"))
                             for code in codes_of(concept)),
        reference_low=parse_quantity(reference_range.get("low")),
        reference_high=parse_quantity(reference_range.get("high")),
    )


def parse_draft_order(
    resource: dict[str, Any], selections: frozenset[str], resolve: MedicationResolver,
    full_url: str | None = None,
) -> DraftOrder:
    """One resource of context.draftOrders; `selected` when its reference is in selections."""
    reference = reference_of(resource, full_url)
    if "medicationCodeableConcept" in resource or "medicationReference" in resource:
        codings, text = medication_concept(resource, resolve)
    else:
        codings, text = codings_of(resource.get("code")), text_of(resource.get("code"))
    return DraftOrder(
        reference=reference,
        resource_type=str(resource.get("resourceType", "")),
        codings=codings,
        text=text,
        selected=reference in selections,
        status=_str(resource.get("status")),
    )


def _dose_and_rate(dosages: list[Any]) -> Quantity | None:
    for dosage in dosages:
        for dose_and_rate in _list(dosage.get("doseAndRate") if _is_mapping(dosage)
                                   else None):
            if _is_mapping(dose_and_rate):
                quantity = parse_quantity(dose_and_rate.get("doseQuantity"))
                if quantity is not None:
                    return quantity
    return None


def _period_bound(period: Any, side: str) -> DateRange | None:
    """Period.start or Period.end as its own (possibly partial) date range."""
    if not _is_mapping(period):
        return None
    return parse_date(period.get(side), DateSource.PERIOD)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_list(value: Any) -> list[Any]:
    """The value when it is a JSON array, else an empty list (wrong types read as absent)."""
    return _list(value)
