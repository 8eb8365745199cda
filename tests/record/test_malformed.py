"""Wrong JSON types and malformed URLs (found by the security fuzzing): 400/412, never 500.

Regressions: a `fhirServer` with a malformed port raised ValueError (500); a prefetch resource
whose `resourceType` was a list crashed the subject check (500). The property test feeds a random
JSON value into every field of a full request that the record layer reads: only a `CdsError` or
a `PatientRecord` may come out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import Settings
from service.errors import CdsError, DataUnavailable, ForeignPatientData, InvalidRequest
from service.record.fhir_client import FhirClient
from service.record.gather import gather_record
from service.record.model import PatientRecord
from tests.conftest import post_json
from tests.record import helpers as h

SETTINGS = Settings(profile="dev", fhir_deadline_seconds=1.0)
TOKEN = "secret-token-never-echoed"
PATIENT_VIEW = "/cds-services/osteoporosis-patient-view"
BAD_SERVERS = ["https://ehr.example.org:99999/fhir", "http://h:abc", "http://[::1/fhir",
               "http://h:-1/fhir"]


def gather(request: dict[str, Any]) -> PatientRecord:
    return gather_record(request, settings=SETTINGS, templates=h.TEMPLATES)


def with_server(server: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    return h.hook_request(prefetch, fhirServer=server, fhirAuthorization={
        "access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "osteocds"})


# ---- (a) malformed fhirServer --------------------------------------------------------------


@pytest.mark.parametrize("server", BAD_SERVERS)
def test_malformed_fhir_server_is_400_naming_the_field(server: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        gather(with_server(server))
    assert raised.value.field == "fhirServer"
    assert TOKEN not in raised.value.message
    assert server not in raised.value.message


@pytest.mark.parametrize("server", BAD_SERVERS)
def test_malformed_fhir_server_is_400_even_when_everything_is_prefetched(server: str) -> None:
    with pytest.raises(InvalidRequest):
        gather(with_server(server, h.full_prefetch()))


def test_fhir_client_refuses_a_malformed_port() -> None:
    with pytest.raises(InvalidRequest) as raised:
        FhirClient("https://ehr.example.org:99999/fhir", token=TOKEN, settings=SETTINGS)
    assert raised.value.field == "fhirServer"


def test_next_link_with_a_malformed_port_is_412_without_a_request() -> None:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = h.searchset(h.condition("c1"),
                                         next_url="http://127.0.0.1:99999/fhir/Condition?page=2")
    with pytest.raises(DataUnavailable) as raised:
        gather(with_server("http://127.0.0.1:9/fhir", prefetch))
    assert "not a valid URL" in raised.value.message
    assert TOKEN not in raised.value.message


@pytest.mark.parametrize("server", BAD_SERVERS[:2])
def test_malformed_fhir_server_over_http_is_400(make_app: Callable[..., Flask],
                                                 server: str) -> None:
    response = post_json(make_app().test_client(), PATIENT_VIEW, with_server(server))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "fhirServer" in text
    assert TOKEN not in text


# ---- (b) wrong JSON types in resources ----------------------------------------------------


def _condition_with(**fields: Any) -> dict[str, Any]:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = h.searchset(h.condition("c1", **fields))
    return prefetch


@pytest.mark.parametrize(
    ("prefetch", "detail"),
    [
        (_condition_with(resourceType=["Condition"]), "without a valid resourceType"),
        (_condition_with(resourceType={"a": 1}), "without a valid resourceType"),
        (_condition_with(subject="Patient/pat-1"), "subject is not a Reference"),
        (_condition_with(subject={"reference": ["Patient/pat-1"]}), "subject is not a Reference"),
        (_condition_with(id=7), "id is not a string"),
        ({**h.full_prefetch(), "conditions": {"resourceType": "Bundle",
                                              "entry": {"resource": h.condition("c1")}}},
         "entry is not a list"),
        ({**h.full_prefetch(), "conditions": {"resourceType": "Bundle", "entry": ["x"]}},
         "entry that is not a JSON object"),
        ({**h.full_prefetch(), "conditions": {"resourceType": "Bundle",
                                              "entry": [{"resource": "Condition"}]}},
         "not a JSON object"),
        ({**h.full_prefetch(), "conditions": {"resourceType": "Bundle", "link": {"a": 1}}},
         "link is not a list"),
        ({**h.full_prefetch(), "conditions": {"resourceType": "Bundle",
                                              "link": [{"relation": "next", "url": 5}]}},
         "next link without a URL"),
        ({**h.full_prefetch(), "patient": h.patient(id=["pat-1"])}, "id is not a string"),
    ],
)
def test_malformed_resource_header_in_prefetch_is_400(prefetch: dict[str, Any],
                                                      detail: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        gather(h.hook_request(prefetch))
    assert detail in raised.value.message
    assert raised.value.field is not None
    assert raised.value.field.startswith("prefetch.")


def test_resource_type_list_over_http_is_400(make_app: Callable[..., Flask]) -> None:
    request = h.hook_request(_condition_with(resourceType=["Condition", "Jane Doe"]))
    response = post_json(make_app().test_client(), PATIENT_VIEW, request)
    assert response.status_code == 400
    assert "Jane Doe" not in response.get_data(as_text=True)


def test_junk_resource_type_string_is_not_echoed() -> None:
    with pytest.raises(ForeignPatientData) as raised:
        gather(h.hook_request(_condition_with(resourceType="Condition",
                                              subject={"reference": "Patient/other"})))
    assert "other" not in raised.value.message.replace("another", "")
    prefetch = h.full_prefetch()
    prefetch["conditions"] = {"resourceType": "Jane Doe 1950-01-01"}
    with pytest.raises(InvalidRequest) as invalid:
        gather(h.hook_request(prefetch))
    assert "Jane" not in invalid.value.message


def test_draft_order_with_malformed_subject_is_400() -> None:
    request = h.hook_request(h.full_prefetch())
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "MedicationRequest", "id": "d1", "status": "draft", "intent": "order",
        "subject": "Patient/other"}}]}
    with pytest.raises(InvalidRequest) as raised:
        gather(request)
    assert raised.value.field == "context.draftOrders"


@pytest.mark.parametrize(
    ("field", "value"),
    [("valueQuantity", {"value": 10**400}), ("valueQuantity", {"value": float("nan")}),
     ("referenceRange", ["junk"]), ("effectivePeriod", "2024"), ("code", [1, 2])],
)
def test_wrong_types_in_clinical_fields_read_as_not_stated(field: str, value: Any) -> None:
    prefetch = h.full_prefetch()
    prefetch["observations"] = h.searchset(h.observation("o1", **{field: value}))
    record = gather(h.hook_request(prefetch))
    assert len(record.observations) == 1


def test_huge_onset_age_is_no_date() -> None:
    prefetch = _condition_with(onsetAge={"value": 1e300, "unit": "a"})
    record = gather(h.hook_request(prefetch))
    assert not record.conditions[0].onset.is_known


# ---- property test: random JSON in every field the parser reads ----------------------------

# fields the parser reads that the base request does not carry, added to every resource
EXTRA_FIELDS = ("onsetAge", "onsetRange", "onsetPeriod", "abatementDateTime", "abatementAge",
                "recordedDate", "verificationStatus", "category", "medicationReference",
                "contained", "dosage", "dosageInstruction", "effectivePeriod",
                "effectiveInstant", "valueCodeableConcept", "valueString", "interpretation",
                "referenceRange", "deceasedBoolean", "deceasedDateTime", "patient", "fullUrl")


def _base_request() -> dict[str, Any]:
    prefetch = h.full_prefetch()
    medication = {"resourceType": "Medication", "id": "m1",
                  "code": h.concept("http://www.nlm.nih.gov/research/umls/rxnorm", "2103172")}
    prefetch["medicationAdministrations"]["entry"].append(
        {"resource": medication, "search": {"mode": "include"}})
    prefetch["medicationAdministrations"]["entry"].append({"resource": h.administration(
        "a2", medicationCodeableConcept=None, medicationReference={"reference": "Medication/m1"},
        dosage={"dose": {"value": 210, "unit": "mg"}})})
    del prefetch["medicationAdministrations"]["entry"][-1]["resource"][
        "medicationCodeableConcept"]
    prefetch["conditions"]["entry"].append({"resource": h.condition(
        "c2", onsetAge={"value": 60, "unit": "a"}, recordedDate="2021",
        verificationStatus=h.concept("x", "confirmed"), category=[h.concept("x", "y")])})
    request = h.hook_request(prefetch)
    request["context"]["selections"] = ["MedicationRequest/d1"]
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                         "entry": [{"resource": {
                                             "resourceType": "MedicationRequest", "id": "d1",
                                             "status": "draft", "intent": "order",
                                             "subject": h.subject(),
                                             "medicationReference": {"reference": "#m"},
                                             "contained": [{"resourceType": "Medication",
                                                            "id": "m", "code": h.concept(
                                                                "x", "2103172")}]}}]}
    return request


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value under context and prefetch, plus EXTRA_FIELDS on each resource."""
    found: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(value, dict):
        if "resourceType" in value:
            found.extend((*path, name) for name in EXTRA_FIELDS if name not in value)
        for key, item in value.items():
            if path or key in ("context", "prefetch"):
                found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


BASE_REQUEST = _base_request()
PATHS = _paths(BASE_REQUEST)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["2021", "2021-13", "0000-01-01", "Patient/pat-1", "Patient/other",
                     "Medication/m1", "#m", "Bundle", "Condition", "http://h:99999/x",
                     "9999-12-31", "active", "completed", "order"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(
                                   ["value", "reference", "code", "coding", "start", "end",
                                    "resource", "unit", "low", "high", "system"]),
                                   children, max_size=3)),
    max_leaves=6,
)


def _set(request: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(request)
    target = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1,
                          max_size=3))
def test_random_json_types_give_a_record_or_a_cds_error(
        mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    request = BASE_REQUEST
    for path, value in mutations:
        try:
            request = _set(request, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path's parent
    outcome: PatientRecord | CdsError
    try:
        outcome = gather(request)
    except CdsError as error:
        outcome = error
    if isinstance(outcome, CdsError):
        assert TOKEN not in outcome.message
        return
    record = outcome
    assert isinstance(record, PatientRecord)
    hash(record)  # every part is an immutable value (no list or dict leaked into the record)
    json.dumps([item.reference for item in (*record.conditions, *record.medications,
                                            *record.observations, *record.draft_orders)])
