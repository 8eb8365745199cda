"""The parsing rules of issue 3's tables: dates as ranges, what counts as a dose."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.record import parse
from service.record.model import DateRange, DateSource
from tests.record import helpers as h

BIRTH = DateRange.exact(date(1950, 6, 15))
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def no_resolver(*_: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("value", "earliest", "latest"),
    [
        ("2021", date(2021, 1, 1), date(2021, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2024-03-01T23:30:00-05:00", date(2024, 3, 1), date(2024, 3, 1)),
        ("2024-03-01T01:30:00+14:00", date(2024, 3, 1), date(2024, 3, 1)),
    ],
)
def test_partial_dates_are_ranges_and_time_zones_never_shift(value: str, earliest: date,
                                                             latest: date) -> None:
    parsed = parse.parse_date(value)
    assert parsed is not None
    assert (parsed.earliest, parsed.latest) == (earliest, latest)


@pytest.mark.parametrize("value", ["2021-13", "yesterday", "", None, 2021])
def test_not_a_date(value: Any) -> None:
    assert parse.parse_date(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("2024-03-01T23:30:00Z", date(2024, 3, 1)),
        (" 2024-03-01 ", date(2024, 3, 1)),  # surrounding blanks: the general path strips them
        ("\uff12\uff10\uff12\uff14-03-01", date(2024, 3, 1)),  # non-ASCII digits, as before
        ("2023-02-29", None),
        ("2024-03-01T1\n0", None),
        ("2024-03-01X", None),
        ("2024/03/01", None),
        ("+024-03-01", None),
    ],
)
def test_day_fast_path_reads_like_the_general_pattern(value: str, expected: date | None) -> None:
    parsed = parse.parse_date(value)
    assert (parsed.earliest if parsed else None) == expected
    match = parse._FHIR_DATE.match(value.strip())
    general = None
    if match and match.group(3):
        try:
            general = date(*(int(g) for g in match.groups()))
        except ValueError:
            general = None
    assert general == expected


_DATE_LIKE = st.lists(
    st.sampled_from(["2024", "0000", "1999", "-", "02", "29", "13", "00", "1", "T", "Z",
                     "10:30", "\n", " ", "W", "\uff12", "+", ":"]),
    max_size=8,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_DATE_LIKE, st.dates().map(date.isoformat),
                 st.datetimes().map(lambda moment: moment.isoformat())))
def test_day_fast_path_agrees_with_the_general_path(value: str) -> None:
    assert parse.parse_date(value) == parse._parse_any_date(value, DateSource.DATE_TIME)


def test_quantity_values() -> None:
    assert parse.parse_quantity({"value": 9.5, "unit": "mg/dL"}).value == 9.5
    assert parse.parse_quantity({"value": 10}).value == 10.0
    assert parse.parse_quantity({"value": True}) is None
    assert parse.parse_quantity({"value": float("nan")}) is None
    assert parse.parse_quantity({"value": 10**400}) is None
    assert parse.parse_quantity(None) is None
    assert parse.parse_quantity([{"value": 1.0}]) is None


def test_condition_onsets() -> None:
    by_period = parse.parse_condition(h.condition("c", onsetPeriod={"start": "2020-05"}), BIRTH)
    assert by_period is not None
    assert by_period.onset == DateRange(date(2020, 5, 1), None, DateSource.PERIOD)
    by_age = parse.parse_condition(h.condition("c", onsetAge={"value": 70, "code": "a"}), BIRTH)
    assert by_age is not None
    assert by_age.onset == DateRange(date(2020, 6, 15), date(2021, 6, 14), DateSource.AGE)
    recorded = parse.parse_condition(h.condition("c", recordedDate="2022-04-02"), BIRTH)
    assert recorded is not None
    assert recorded.onset == DateRange(None, date(2022, 4, 2), DateSource.RECORDED)
    unknown = parse.parse_condition(h.condition("c"), BIRTH)
    assert unknown is not None
    assert unknown.onset == DateRange.unknown()
    age_without_birth = parse.parse_condition(h.condition("c", onsetAge={"value": 70}), None)
    assert age_without_birth is not None
    assert not age_without_birth.onset.is_known


@pytest.mark.parametrize("status", ["entered-in-error", "refuted"])
def test_condition_skipped(status: str) -> None:
    resource = h.condition("c", verificationStatus=h.concept(
        "http://terminology.hl7.org/CodeSystem/condition-ver-status", status))
    assert parse.parse_condition(resource, BIRTH) is None


@pytest.mark.parametrize(
    ("builder", "status", "counts"),
    [
        (h.administration, "completed", True), (h.administration, "in-progress", True),
        (h.administration, "not-done", False), (h.administration, "entered-in-error", False),
        (h.statement, "active", True), (h.statement, "completed", True),
        (h.statement, "intended", False), (h.statement, "not-taken", False),
        (h.med_request, "active", True), (h.med_request, "completed", True),
        (h.med_request, "draft", False), (h.med_request, "cancelled", False),
        # halted after it began (R4): doses were given before; a stopped denosumab is the case
        # the discontinuation warning is for
        (h.statement, "stopped", True), (h.statement, "on-hold", True),
        (h.statement, "unknown", False), (h.statement, "entered-in-error", False),
        (h.med_request, "stopped", True), (h.med_request, "on-hold", True),
        (h.med_request, "unknown", False), (h.med_request, "entered-in-error", False),
    ],
)
def test_what_counts_as_a_dose(builder: Any, status: str, counts: bool) -> None:
    event = parse.parse_medication(builder("x", status=status), no_resolver)
    assert (event is not None) is counts


@pytest.mark.parametrize(("intent", "counts"), [
    ("order", True), ("original-order", True), ("reflex-order", True), ("filler-order", True),
    ("instance-order", True),  # the R4 specialisations of `order`
    ("plan", False), ("proposal", False), ("directive", False), ("option", False), (None, False),
])
def test_request_must_be_an_order(intent: str | None, counts: bool) -> None:
    resource = h.med_request("x", intent=intent)
    assert (parse.parse_medication(resource, no_resolver) is not None) is counts


def test_dose_dates_per_type() -> None:
    administration = h.administration("a", effectivePeriod={"start": "2024-01-05"})
    del administration["effectiveDateTime"]
    event = parse.parse_medication(administration, no_resolver)
    assert event is not None
    assert event.dose_date.earliest == date(2024, 1, 5)
    statement = parse.parse_medication(h.statement("s"), no_resolver)
    assert statement is not None
    assert statement.dose_date.earliest == date(2023, 7, 1)  # period end
    assert statement.period_start == date(2023, 1, 1)


def test_observation_value_range_interpretation_and_skips() -> None:
    resource = h.observation(
        "o", code="17861-6", value=8.1,
        interpretation=[h.concept(INTERPRETATION, "L")],
        referenceRange=[{"low": {"value": 8.6, "unit": "mg/dL"}, "high": {"value": 10.3}}])
    observation = parse.parse_observation(resource)
    assert observation is not None
    assert observation.value is not None
    assert observation.value.value == 8.1
    assert observation.interpretation == ("L",)
    assert observation.reference_low is not None
    assert observation.reference_low.value == 8.6
    for status in ("cancelled", "entered-in-error"):
        assert parse.parse_observation(h.observation("o", status=status)) is None


@pytest.mark.parametrize(("extra", "abated"), [
    ({}, False),
    ({"abatementDateTime": "2020-01-01"}, True),
    ({"abatementAge": {"value": 60, "unit": "a"}}, True),  # read even without a birth date
    ({"abatementPeriod": {"start": "2020-01-01"}}, True),
    ({"abatementString": "resolved after surgery"}, True),
    ({"abatementBoolean": True}, True),
    ({"abatementBoolean": False}, False),
])
def test_abatement_without_a_clinical_status_makes_a_condition_inactive(
    extra: dict[str, Any], abated: bool,
) -> None:
    """R4 con-4: an abated condition is inactive, resolved or in remission."""
    condition = parse.parse_condition(h.condition("c", **extra), None)
    assert condition is not None
    assert condition.clinical_status is None
    assert condition.is_inactive is abated


@pytest.mark.parametrize(("status", "inactive"), [
    ("active", False), ("recurrence", False), ("relapse", False),
    ("inactive", True), ("remission", True), ("resolved", True),
])
def test_a_clinical_status_wins_over_the_abatement(status: str, inactive: bool) -> None:
    resource = h.condition("c", abatementDateTime="2020-01-01", clinicalStatus=h.concept(
        "http://terminology.hl7.org/CodeSystem/condition-clinical", status))
    condition = parse.parse_condition(resource, None)
    assert condition is not None
    assert condition.is_inactive is inactive


def test_observation_dated_by_issued_only_when_no_effective_date() -> None:
    resource = h.observation("o", issued="2024-03-05T09:30:00Z")
    dated = parse.parse_observation(resource)
    assert dated is not None
    assert dated.effective.earliest == date(2024, 2, 1)  # effectiveDateTime wins
    del resource["effectiveDateTime"]
    issued = parse.parse_observation(resource)
    assert issued is not None
    assert issued.effective.earliest == issued.effective.latest == date(2024, 3, 5)
    del resource["issued"]
    undated = parse.parse_observation(resource)
    assert undated is not None
    assert not undated.effective.is_known


@pytest.mark.parametrize(("system", "expected"), [
    ("urn:oid:2.16.840.1.113883.6.90", "http://hl7.org/fhir/sid/icd-10-cm"),
    ("http://hl7.org/fhir/sid/icd-10-cm/", "http://hl7.org/fhir/sid/icd-10-cm"),
    ("urn:oid:2.16.840.1.113883.6.96", "http://snomed.info/sct"),
    ("http://snomed.info/sct/", "http://snomed.info/sct"),
    ("urn:oid:2.16.840.1.113883.6.1", "http://loinc.org"),
    ("urn:oid:2.16.840.1.113883.6.88", "http://www.nlm.nih.gov/research/umls/rxnorm"),
    ("http://snomed.info/sct", "http://snomed.info/sct"),
    ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10"),  # WHO: not ICD-10-CM
    ("urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.3"),
    ("", None),
])
def test_code_systems_are_read_by_their_fhir_uri(system: str, expected: str | None) -> None:
    (coding,) = parse.codings_of({"coding": [{"system": system, "code": "I21.4"}]})
    assert coding.system == expected


def test_every_alias_has_the_shape_codings_of_looks_up() -> None:
    """`codings_of` consults the aliases only for a system ending in '/' or an OID URN."""
    assert all(alias.endswith("/") or alias.startswith("urn:oid:")
               for alias in parse.SYSTEM_ALIASES)
