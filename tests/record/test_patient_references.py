"""`belongs_to_patient` (references built once per prefetch key) agrees with the plain
definition it replaced, for any reference, patient id and fhirServer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.record.gather import belongs_to_patient


def plain_definition(resource: dict[str, Any], patient_id: str, fhir_server: Any) -> bool:
    """The rule as first written: `Patient/<id>` or `<fhirServer>/Patient/<id>`, each optionally
    followed by `/_history/...`, in `subject` or else `patient`."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return False
    if resource_type in ("Medication", "OperationOutcome"):
        return True
    if resource_type == "Patient":
        return resource.get("id") == patient_id
    for element in ("subject", "patient"):
        reference = resource.get(element)
        if isinstance(reference, dict) and "reference" in reference:
            value = reference.get("reference")
            if not isinstance(value, str):
                return False
            relative = f"Patient/{patient_id}"
            if value == relative or value.startswith(relative + "/_history/"):
                return True
            if isinstance(fhir_server, str) and fhir_server:
                absolute = f"{fhir_server.rstrip('/')}/{relative}"
                return value == absolute or value.startswith(absolute + "/_history/")
            return False
    return False


_IDS = st.sampled_from(["p1", "p12", "p", "x-1"])
_SERVERS = st.one_of(st.none(), st.just(""), st.just(7),
                     st.sampled_from(["https://ehr.example/fhir", "https://ehr.example/fhir/",
                                      "http://h:8080"]))
_PIECES = st.sampled_from(["Patient/", "p1", "p12", "p", "/_history/", "2", "/", "_history",
                           "https://ehr.example/fhir", "http://h:8080", "x-1", "Patient"])


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    resource_type = draw(st.sampled_from(
        ["Observation", "Condition", "Patient", "Medication", "MedicationRequest", 3]))
    resource: dict[str, Any] = {"resourceType": resource_type, "id": draw(_IDS)}
    for element in draw(st.lists(st.sampled_from(["subject", "patient"]), max_size=2)):
        reference = draw(st.one_of(st.lists(_PIECES, max_size=5).map("".join), st.none(),
                                   st.just(5)))
        resource[element] = draw(st.sampled_from([{"reference": reference}, {}, "x"]))
    return resource


@settings(max_examples=1500, deadline=None)
@given(resources(), _IDS, _SERVERS)
def test_belongs_to_patient_equals_the_plain_definition(
        resource: dict[str, Any], patient_id: str, fhir_server: Any) -> None:
    assert belongs_to_patient(resource, patient_id, fhir_server) == plain_definition(
        resource, patient_id, fhir_server)


def test_the_forms_a_reference_may_take() -> None:
    server = "https://ehr.example/fhir/"
    for reference, expected in [
        ("Patient/p1", True), ("Patient/p1/_history/3", True), ("Patient/p12", False),
        ("Patient/p1/_historyX", False), ("https://ehr.example/fhir/Patient/p1", True),
        ("https://ehr.example/fhir/Patient/p1/_history/2", True),
        ("https://other.example/fhir/Patient/p1", False), ("Patient/p1/", False),
    ]:
        resource = {"resourceType": "Observation", "subject": {"reference": reference}}
        assert belongs_to_patient(resource, "p1", server) is expected, reference
