"""gather_record on prefetch alone: semantics per key, foreign data, malformed shapes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.config import Settings
from service.errors import DataUnavailable, ForeignPatientData, InvalidRequest
from service.record.gather import gather_record
from service.record.model import DateSource, MedicationSourceType, PatientRecord
from tests.record import helpers as h

SETTINGS = Settings(profile="dev")


def gather(request: dict[str, Any], **kwargs: Any) -> PatientRecord:
    return gather_record(request, settings=SETTINGS, templates=h.TEMPLATES, **kwargs)


def test_full_prefetch_gives_every_part() -> None:
    record = gather(h.hook_request(h.full_prefetch()))
    assert record.patient is not None
    assert record.patient.birth_date.earliest == date(1950, 6, 15)
    assert [c.reference for c in record.conditions] == ["Condition/c1"]
    assert {m.source_type for m in record.medications} == set(MedicationSourceType)
    request_event = next(m for m in record.medications
                         if m.source_type is MedicationSourceType.REQUEST)
    assert request_event.dose_date.earliest == date(2022, 5, 3)  # time zone never shifts it
    assert record.observations[0].value is not None
    assert record.observations[0].value.value == -3.1
    assert record.is_complete
    assert record.data_gaps == ()


def test_every_key_null_gives_an_empty_record_without_fetching() -> None:
    prefetch = dict.fromkeys(h.TEMPLATES)

    def no_client(*_: Any) -> Any:
        raise AssertionError("must not fetch")

    record = gather(h.hook_request(prefetch), fhir_client_factory=no_client)
    assert record.patient is None
    assert record.conditions == record.medications == record.observations == ()
    assert record.is_complete


@pytest.mark.parametrize("value", ["absent", "outcome", "string", "list", "paged"])
def test_missing_data_without_fhir_server_is_412_naming_the_key(value: str) -> None:
    prefetch = h.full_prefetch()
    if value == "absent":
        del prefetch["conditions"]
    elif value == "outcome":
        prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    elif value == "string":
        prefetch["conditions"] = "123"
    elif value == "list":
        prefetch["conditions"] = []
    else:
        prefetch["conditions"] = h.searchset(h.condition("c1"),
                                             next_url="https://ehr.example/fhir/Condition?p=2")
    token = "secret-token-value"
    request = h.hook_request(prefetch, fhirAuthorization={
        "access_token": token, "token_type": "Bearer", "scope": "patient/*.read",
        "expires_in": 300, "subject": "cds"})
    with pytest.raises(DataUnavailable) as raised:
        gather(request)
    assert raised.value.status == 412
    assert "conditions" in raised.value.message
    assert token not in raised.value.message
    assert h.PATIENT_ID not in raised.value.message


def test_absent_prefetch_altogether_is_412_listing_every_key() -> None:
    with pytest.raises(DataUnavailable) as raised:
        gather(h.hook_request())
    for key in h.TEMPLATES:
        assert key in raised.value.message


@pytest.mark.parametrize("key", ["conditions", "observations", "medicationRequests"])
def test_foreign_subject_is_400(key: str) -> None:
    prefetch = h.full_prefetch()
    builder = {"conditions": h.condition, "observations": h.observation,
               "medicationRequests": h.med_request}[key]
    prefetch[key] = h.searchset(builder("x", subject=h.subject("foreign-77")))
    with pytest.raises(ForeignPatientData) as raised:
        gather(h.hook_request(prefetch))
    assert raised.value.status == 400
    assert "foreign-77" not in raised.value.message


def test_foreign_patient_resource_is_400() -> None:
    prefetch = h.full_prefetch()
    prefetch["patient"] = h.patient("other")
    with pytest.raises(ForeignPatientData):
        gather(h.hook_request(prefetch))


def test_resource_without_subject_is_rejected() -> None:
    prefetch = h.full_prefetch()
    orphan = h.condition("c9")
    del orphan["subject"]
    prefetch["conditions"] = h.searchset(orphan)
    with pytest.raises(ForeignPatientData):
        gather(h.hook_request(prefetch))


def test_absolute_subject_on_the_fhir_server_is_accepted() -> None:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = h.searchset(h.condition(
        "c1", subject={"reference": f"https://ehr.example/fhir/Patient/{h.PATIENT_ID}"}))
    record = gather(h.hook_request(prefetch, fhirServer="https://ehr.example/fhir"))
    assert len(record.conditions) == 1


@pytest.mark.parametrize(
    "request_body",
    [
        {"context": "x"},
        {"context": {}},
        {"context": {"patientId": "../etc"}},
        {"context": {"patientId": "p"}, "prefetch": []},
        {"context": {"patientId": "p"}, "prefetch": {"patient": {"resourceType": "Condition"}}},
        {"context": {"patientId": "p", "draftOrders": []}, "prefetch": {}},
        {"context": {"patientId": "p", "selections": "MedicationRequest/1"}, "prefetch": {}},
        {"context": {"patientId": "p"}, "prefetch": {}, "fhirServer": 3},
        {"context": {"patientId": "p"}, "prefetch": {}, "fhirAuthorization": {"x": 1}},
    ],
)
def test_malformed_shapes_are_invalid_requests(request_body: dict[str, Any]) -> None:
    prefetch = request_body.get("prefetch")
    if isinstance(prefetch, dict):
        prefetch = {**dict.fromkeys(h.TEMPLATES), **prefetch}
        request_body = {**request_body, "prefetch": prefetch}
    with pytest.raises(InvalidRequest):
        gather(request_body)


def test_draft_orders_and_selections() -> None:
    draft = {"resourceType": "MedicationRequest", "id": "draft-1", "status": "draft",
             "intent": "proposal", "subject": h.subject(),
             "medicationCodeableConcept": h.concept("http://www.nlm.nih.gov/research/umls/rxnorm",
                                                    "2103172", "romosozumab")}
    other = {**draft, "id": "draft-2"}
    context = {"patientId": h.PATIENT_ID, "selections": ["MedicationRequest/draft-1"],
               "draftOrders": {"resourceType": "Bundle",
                               "entry": [{"resource": draft}, {"resource": other}]}}
    request = h.hook_request(h.full_prefetch())
    request["context"] = context
    record = gather(request)
    assert [(o.reference, o.selected) for o in record.draft_orders] == [
        ("MedicationRequest/draft-1", True), ("MedicationRequest/draft-2", False)]
    assert record.selected_orders[0].codings[0].code == "2103172"
    assert all(m.reference != "MedicationRequest/draft-1" for m in record.medications)


@pytest.mark.parametrize(("selection", "warned"), [
    ("draft-1", True),  # a bare id, not a reference: nothing is selected
    ("MedicationRequest/draft-9", True),  # an order that is not among the drafts
    ("MedicationRequest/draft-1", False),
])
def test_selections_naming_no_draft_order_are_warned_of(selection: str, warned: bool,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """An EHR whose selections match no draft gets no card about the order being picked: the
    operator is told (the selection's value never reaches the log)."""
    draft = h.med_request("draft-1", status="draft")
    request = h.hook_request(h.full_prefetch())
    request["context"]["selections"] = [selection]
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                         "entry": [{"resource": draft}]}
    with caplog.at_level("WARNING", logger="osteocds.record"):
        record = gather(request)
    assert bool(record.selected_orders) is not warned
    messages = [r.getMessage() for r in caplog.records if r.name == "osteocds.record"]
    assert messages == (["context.selections names none of the 1 draft orders: selections are "
                         "'MedicationRequest/<id>' references to context.draftOrders entries"]
                        if warned else [])
    assert selection not in caplog.text


def test_draft_order_for_another_patient_is_400() -> None:
    request = h.hook_request(h.full_prefetch())
    draft = h.med_request("d", status="draft", subject=h.subject("other"))
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                         "entry": [{"resource": draft}]}
    with pytest.raises(ForeignPatientData):
        gather(request)


def test_contained_medication_reference_is_resolved() -> None:
    prefetch = h.full_prefetch()
    administration = h.administration("a2")
    del administration["medicationCodeableConcept"]
    administration["medicationReference"] = {"reference": "#med"}
    administration["contained"] = [{"resourceType": "Medication", "id": "med",
                                    "code": h.concept("http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "2103172", "romosozumab")}]
    prefetch["medicationAdministrations"] = h.searchset(administration)
    record = gather(h.hook_request(prefetch))
    event = next(m for m in record.medications if m.reference == "MedicationAdministration/a2")
    assert event.codings[0].code == "2103172"
    assert record.is_complete


def test_unresolvable_medication_reference_without_server_is_a_partial_gap() -> None:
    prefetch = h.full_prefetch()
    administration = h.administration("a2")
    del administration["medicationCodeableConcept"]
    administration["medicationReference"] = {"reference": "Medication/m1", "display": "Evenity"}
    prefetch["medicationAdministrations"] = h.searchset(administration)
    record = gather(h.hook_request(prefetch))
    event = next(m for m in record.medications if m.reference == "MedicationAdministration/a2")
    assert event.codings == ()
    assert event.text == "Evenity"
    assert not record.is_complete
    assert record.data_gaps[0].resource_type == "Medication"


def test_included_medication_in_the_bundle_is_used() -> None:
    prefetch = h.full_prefetch()
    request_resource = h.med_request("r2")
    del request_resource["medicationCodeableConcept"]
    request_resource["medicationReference"] = {"reference": "Medication/m1"}
    medication = {"resourceType": "Medication", "id": "m1",
                  "code": h.concept("http://www.nlm.nih.gov/research/umls/rxnorm", "993449")}
    prefetch["medicationRequests"] = h.searchset(request_resource, medication)
    record = gather(h.hook_request(prefetch))
    event = next(m for m in record.medications if m.reference == "MedicationRequest/r2")
    assert event.codings[0].code == "993449"
    assert event.dose_date.source is DateSource.DATE_TIME
