"""gather_record on real persona Bundles: `_include`d resources of types the service does not
read are ignored (never a 400), and `medicationReference` resolves in every R4 form a bundled
or fetchable Medication can take (absolute URL, `urn:uuid:`, versioned, on `fhirServer`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from service.config import Settings
from service.errors import ForeignPatientData
from service.knowledge import load_knowledge
from service.record.fhir_client import Deadline, FetchOutcome, FetchResult
from service.record.gather import gather_record
from service.record.model import MedicationEvent, PatientRecord
from service.record.queries import service_templates
from tests.conftest import post_json
from tests.personas.persona_cases import AS_OF, SERVICE_IDS, Case

SETTINGS = Settings(profile="dev")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SERVER = "https://ehr.example/fhir"
ALENDRONATE = "MedicationStatement/osteocds-p01-alendronate"
ALENDRONATE_RXCUI = "904431"
DENOSUMAB_RXCUI = "993456"
UUID = "urn:uuid:6f0c8c1e-2f3a-4a55-9b1e-0d7c2b6f9a10"
TEMPLATES = service_templates(load_knowledge())  # exactly the service's own templates


def persona_request(persona: str, hook: str = "patient-view",
                    order: str | None = None) -> dict[str, Any]:
    return Case(persona, hook, order, frozenset()).request()


def gather(request: dict[str, Any], **kwargs: Any) -> PatientRecord:
    return gather_record(request, settings=SETTINGS, templates=TEMPLATES, **kwargs)


def event(record: PatientRecord, reference: str) -> MedicationEvent:
    return next(m for m in record.medications if m.reference == reference)


def codes(item: Any) -> list[str]:
    return [coding.code for coding in item.codings]


def no_medication_gap(record: PatientRecord) -> bool:
    return all(gap.resource_type != "Medication" for gap in record.data_gaps)


def by_reference(resource: dict[str, Any], reference: str, medication: dict[str, Any],
                 full_url: str | None) -> dict[str, Any]:
    """Turns `resource`'s medicationCodeableConcept into a Medication referred to by
    `reference`; returns the Medication's `_include` entry (`full_url`, or none)."""
    concept = resource.pop("medicationCodeableConcept")
    resource["medicationReference"] = {"reference": reference}
    medication.setdefault("code", concept)
    entry: dict[str, Any] = {"resource": medication, "search": {"mode": "include"}}
    if full_url is not None:
        entry["fullUrl"] = full_url
    return entry


def refer_alendronate(request: dict[str, Any], reference: str, full_url: str | None,
                      medication_id: str | None = "alendronate-70",
                      bundled: bool = True) -> dict[str, Any]:
    """p01's alendronate MedicationStatement by medicationReference (Medication bundled with
    `full_url` unless `bundled` is False)."""
    request = copy.deepcopy(request)
    bundle = request["prefetch"]["medicationStatements"]
    statement = next(e["resource"] for e in bundle["entry"]
                     if e["resource"].get("id") == ALENDRONATE.split("/")[1])
    medication: dict[str, Any] = {"resourceType": "Medication"}
    if medication_id is not None:
        medication["id"] = medication_id
    entry = by_reference(statement, reference, medication, full_url)
    if bundled:
        bundle["entry"].append(entry)
    return request


class RecordingFactory:
    """A FHIR client factory whose client answers Medication reads from `medications` and
    records every query (and the base URL it was built for)."""

    def __init__(self, medications: dict[str, dict[str, Any]] | None = None) -> None:
        self.medications = medications or {}
        self.bases: list[str] = []
        self.queries: list[str] = []

    def __call__(self, base_url: str, token: str | None, settings: Settings) -> Any:
        self.bases.append(base_url)
        return self

    def fetch(self, jobs: dict[str, str], deadline: Deadline) -> dict[str, FetchResult]:
        self.queries.extend(jobs.values())
        results = {}
        for key, query in jobs.items():
            found = self.medications.get(query)
            results[key] = (FetchResult(FetchOutcome.OK, [{"resource": found}]) if found
                            else FetchResult(FetchOutcome.NOT_FOUND))
        return results




# ---- defect 1: _include'd resources of types the service does not read ---------------------

OTHER_TYPES: list[dict[str, Any]] = [
    {"resourceType": "Practitioner", "id": "1"},
    {"resourceType": "Organization", "id": "org-1", "name": "Clinic"},
    {"resourceType": "Provenance", "id": "prov-1",
     "target": [{"reference": "Condition/osteocds-p01-osteoporosis"}]},
    {"resourceType": "Encounter", "id": "enc-1", "status": "finished",
     "subject": {"reference": "Patient/someone-else"}},
    {"resourceType": "Location", "id": "loc-1"},
]


def with_included(request: dict[str, Any], resources: list[dict[str, Any]],
                  keys: tuple[str, ...]) -> dict[str, Any]:
    request = copy.deepcopy(request)
    for key in keys:
        bundle = request["prefetch"][key]
        bundle.setdefault("entry", []).extend(
            {"fullUrl": f"{SERVER}/{r['resourceType']}/{r['id']}", "resource": copy.deepcopy(r),
             "search": {"mode": "include"}} for r in resources)
    return request


@pytest.mark.parametrize("included", OTHER_TYPES, ids=[r["resourceType"] for r in OTHER_TYPES])
def test_included_resource_of_an_unread_type_is_ignored(included: dict[str, Any]) -> None:
    plain = persona_request("p01")
    keys = ("conditions", "medicationStatements", "medicationRequests", "observations")
    record = gather(with_included(plain, [included], keys))
    assert record == gather(plain)


def test_included_practitioner_in_a_patient_bundle_is_ignored() -> None:
    request = persona_request("p01")
    patient = request["prefetch"]["patient"]
    request["prefetch"]["patient"] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": patient, "search": {"mode": "match"}},
        {"resource": {"resourceType": "Practitioner", "id": "1"},
         "search": {"mode": "include"}}]}
    record = gather(request)
    assert record.patient is not None
    assert record == gather(persona_request("p01"))


def test_included_practitioner_and_organization_keep_the_cards(
        make_app: Callable[..., Flask]) -> None:
    client = make_app(dev_as_of=AS_OF).test_client()
    path = f"/cds-services/{SERVICE_IDS['order-select']}"
    plain = persona_request("p01", "order-select", "alendronate")
    included = with_included(plain, OTHER_TYPES[:2], ("conditions", "medicationStatements"))
    expected = post_json(client, path, plain)
    response = post_json(client, path, included)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert topics(response.get_json()) == topics(expected.get_json()) == [
        "romosozumab-proposal"]


@pytest.mark.parametrize("mode", ["match", "include"])
def test_condition_of_another_patient_is_still_400(mode: str) -> None:
    request = copy.deepcopy(persona_request("p01"))
    request["prefetch"]["conditions"]["entry"].append({
        "resource": {"resourceType": "Condition", "id": "c-other",
                     "subject": {"reference": "Patient/someone-else"},
                     "code": {"coding": [{"system": "http://snomed.info/sct",
                                          "code": "22298006"}]}},
        "search": {"mode": mode}})
    with pytest.raises(ForeignPatientData) as raised:
        gather(with_included(request, OTHER_TYPES[:1], ("conditions",)))
    assert raised.value.status == 400
    assert "Condition" in raised.value.message
    assert "someone-else" not in raised.value.message


def test_condition_of_another_patient_is_400_over_http(make_app: Callable[..., Flask]) -> None:
    request = with_included(persona_request("p01"), OTHER_TYPES[:1], ("conditions",))
    request["prefetch"]["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c-other",
        "subject": {"reference": "Patient/someone-else"}}})
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS['patient-view']}", request)
    assert response.status_code == 400


def test_an_ignored_resource_fetches_no_medication() -> None:
    """A MedicationRequest `_include`d into the administrations Bundle is not read: its
    medicationReference is neither fetched nor a gap."""
    request = copy.deepcopy(persona_request("p01"))
    request["fhirServer"] = SERVER
    request["prefetch"]["medicationAdministrations"]["entry"] = [{
        "resource": {"resourceType": "MedicationRequest", "id": "r-inc", "status": "active",
                     "intent": "order", "subject": {"reference": "Patient/osteocds-p01"},
                     "medicationReference": {"reference": "Medication/unknown"}},
        "search": {"mode": "include"}}]
    factory = RecordingFactory()
    record = gather(request, fhir_client_factory=factory)
    assert factory.queries == []
    assert no_medication_gap(record)


# ---- defect 2: medicationReference forms ----------------------------------------------------

@pytest.mark.parametrize(
    ("reference", "full_url", "medication_id", "server"),
    [
        pytest.param(f"{SERVER}/Medication/alendronate-70", f"{SERVER}/Medication/alendronate-70",
                     "alendronate-70", None, id="absolute-fullUrl"),
        pytest.param("https://other.example/fhir/Medication/m9",
                     "https://other.example/fhir/Medication/m9", "m9", SERVER,
                     id="absolute-fullUrl-other-server"),
        pytest.param(UUID, UUID, None, None, id="urn-uuid"),
        pytest.param("Medication/alendronate-70/_history/2", UUID, "alendronate-70", None,
                     id="versioned"),
        pytest.param(f"{SERVER}/Medication/alendronate-70/_history/2",
                     f"{SERVER}/Medication/alendronate-70", "alendronate-70", None,
                     id="absolute-versioned"),
        pytest.param(f"{SERVER}/Medication/alendronate-70", "Medication/alendronate-70",
                     "alendronate-70", SERVER, id="on-fhirServer-bundled"),
        pytest.param(f"{SERVER}/Medication/alendronate-70", None, "alendronate-70",
                     SERVER + "/", id="on-fhirServer-no-fullUrl"),
    ],
)
def test_bundled_medication_is_resolved(reference: str, full_url: str | None,
                                        medication_id: str | None, server: str | None) -> None:
    request = refer_alendronate(persona_request("p01"), reference, full_url, medication_id)
    if server:
        request["fhirServer"] = server
    factory = RecordingFactory()
    record = gather(request, fhir_client_factory=factory)
    assert codes(event(record, ALENDRONATE)) == [ALENDRONATE_RXCUI]
    assert no_medication_gap(record)
    assert record.is_complete
    assert factory.queries == []


@pytest.mark.parametrize("reference", [f"{SERVER}/Medication/alendronate-70",
                                       f"{SERVER}/Medication/alendronate-70/_history/3",
                                       "Medication/alendronate-70/_history/3"])
def test_reference_on_the_fhir_server_is_fetched_as_the_relative_form(reference: str) -> None:
    request = refer_alendronate(persona_request("p01"), reference, None, bundled=False)
    request["fhirServer"] = SERVER
    medication = {"resourceType": "Medication", "id": "alendronate-70",
                  "code": {"coding": [{"system": RXNORM, "code": ALENDRONATE_RXCUI}]}}
    factory = RecordingFactory({"Medication/alendronate-70": medication})
    record = gather(request, fhir_client_factory=factory)
    assert factory.bases == [SERVER]
    assert factory.queries == ["Medication/alendronate-70"]
    assert codes(event(record, ALENDRONATE)) == [ALENDRONATE_RXCUI]
    assert record.is_complete


@pytest.mark.parametrize("reference", ["https://other.example/fhir/Medication/alendronate-70",
                                       UUID, "urn:uuid:00000000-0000-0000-0000-000000000000"])
def test_unresolvable_reference_is_never_fetched_elsewhere_and_stays_a_gap(
        reference: str) -> None:
    request = refer_alendronate(persona_request("p01"), reference, "urn:uuid:something-else")
    request["fhirServer"] = SERVER
    factory = RecordingFactory()
    record = gather(request, fhir_client_factory=factory)
    assert factory.queries == []
    assert codes(event(record, ALENDRONATE)) == []
    assert not no_medication_gap(record)
    assert not record.is_complete


def test_denosumab_requests_by_urn_uuid_give_the_overdue_card(
        make_app: Callable[..., Flask]) -> None:
    request = copy.deepcopy(persona_request("p12"))
    bundle = request["prefetch"]["medicationRequests"]
    medication_entry = None
    for entry in list(bundle["entry"]):
        resource = entry["resource"]
        if DENOSUMAB_RXCUI in str(resource.get("medicationCodeableConcept")):
            medication_entry = by_reference(resource, UUID, {"resourceType": "Medication"}, UUID)
    assert medication_entry is not None
    bundle["entry"].append(medication_entry)
    record = gather(request)
    denosumab = [m for m in record.medications if codes(m) == [DENOSUMAB_RXCUI]]
    assert len(denosumab) == 3
    assert no_medication_gap(record)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS['patient-view']}", request)
    assert response.status_code == 200
    assert topics(response.get_json()) == ["denosumab-overdue"]


@pytest.mark.parametrize("reference", [UUID, "Medication/alendronate-70/_history/2"])
def test_alendronate_by_reference_keeps_the_order_select_proposal(
        make_app: Callable[..., Flask], reference: str) -> None:
    request = refer_alendronate(persona_request("p01", "order-select", "alendronate"),
                                reference, UUID)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS['order-select']}", request)
    assert response.status_code == 200
    assert topics(response.get_json()) == ["romosozumab-proposal"]


def test_draft_order_medication_by_urn_uuid_in_the_draft_bundle(
        make_app: Callable[..., Flask]) -> None:
    request = copy.deepcopy(persona_request("p01", "order-select", "alendronate"))
    drafts = request["context"]["draftOrders"]
    draft = drafts["entry"][0]["resource"]
    entry = by_reference(draft, UUID, {"resourceType": "Medication"}, UUID)
    del entry["search"]
    drafts["entry"].append(entry)
    record = gather(request)
    assert codes(record.selected_orders[0]) == [ALENDRONATE_RXCUI]
    assert no_medication_gap(record)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS['order-select']}", request)
    assert response.status_code == 200
    assert topics(response.get_json()) == ["romosozumab-proposal"]


def topics(body: dict[str, Any]) -> list[str]:
    return sorted(card["source"]["topic"]["code"] for card in body["cards"])
