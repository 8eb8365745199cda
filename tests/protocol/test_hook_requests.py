"""The one request builder: every request it builds is valid for its hook's schema."""

from __future__ import annotations

import pytest

from service import hook_requests
from service.protocol import validation
from service.record.queries import PREFETCH_KEYS
from tests.protocol.examples import PATIENT_ID, romosozumab_draft, small_patient_bundle


@pytest.mark.parametrize("hook", hook_requests.HOOKS)
@pytest.mark.parametrize("prefetch", ["full", "none", ["patient", "observations"]])
def test_built_requests_are_valid(hook, prefetch) -> None:
    drafts = [] if hook == "patient-view" else [romosozumab_draft()]
    request = hook_requests.build_hook_request(hook, small_patient_bundle(), draft_orders=drafts,
                                               prefetch=prefetch)
    assert validation.schema_errors(validation.HOOK_REQUEST_SCHEMAS[hook], request) == []
    expected = {"full": list(PREFETCH_KEYS), "none": None}.get(
        prefetch if isinstance(prefetch, str) else "", list(prefetch))
    assert (list(request["prefetch"]) if "prefetch" in request else None) == expected


def test_order_select_selects_every_draft_by_default() -> None:
    request = hook_requests.build_hook_request("order-select", small_patient_bundle(),
                                               draft_orders=[romosozumab_draft()])
    assert request["context"]["selections"] == ["MedicationRequest/draft-romo-1"]
    (entry,) = request["context"]["draftOrders"]["entry"]
    assert entry["resource"]["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    assert entry["resource"]["status"] == "draft"


def test_transaction_bundle_references_are_rewritten() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
         "resource": {"resourceType": "Patient"}},
        {"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
         "resource": {"resourceType": "Condition",
                      "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
                      "code": {"text": "x"}}},
    ]}
    prefetch = hook_requests.build_prefetch(bundle)
    patient_id = prefetch["patient"]["id"]
    assert patient_id == "11111111-1111-4111-8111-111111111111"
    (entry,) = prefetch["conditions"]["entry"]
    assert entry["resource"]["subject"] == {"reference": f"Patient/{patient_id}"}


def test_empty_searches_have_no_empty_arrays_and_codes_filter_observations() -> None:
    prefetch = hook_requests.build_prefetch(small_patient_bundle(),
                                            observation_codes=["17861-6"])
    assert prefetch["medicationStatements"] == {"resourceType": "Bundle", "type": "searchset",
                                                "total": 0}
    assert prefetch["observations"]["total"] == 0
    kept = hook_requests.build_prefetch(small_patient_bundle(), observation_codes=["38267-1"])
    assert kept["observations"]["total"] == 1


def test_medications_by_reference_are_included() -> None:
    bundle = small_patient_bundle()
    bundle["entry"] += [
        {"resource": {"resourceType": "Medication", "id": "med-1",
                      "code": {"text": "denosumab"}}},
        {"resource": {"resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
                      "subject": {"reference": f"Patient/{PATIENT_ID}"},
                      "medicationReference": {"reference": "Medication/med-1"}}},
    ]
    searchset = hook_requests.build_prefetch(bundle)["medicationStatements"]
    assert [e["search"]["mode"] for e in searchset["entry"]] == ["match", "include"]
    assert searchset["total"] == 1


def test_fhir_server_and_authorization() -> None:
    authorization = hook_requests.fhir_authorization("t0ken", patient=PATIENT_ID)
    request = hook_requests.build_hook_request(
        "patient-view", small_patient_bundle(), prefetch="none",
        fhir_server="https://ehr.example.org/fhir/", fhir_authorization=authorization)
    assert request["fhirServer"] == "https://ehr.example.org/fhir"
    assert request["fhirAuthorization"]["token_type"] == "Bearer"
    assert validation.schema_errors("patient-view-request", request) == []
    with pytest.raises(ValueError, match="fhirServer"):
        hook_requests.build_hook_request("patient-view", small_patient_bundle(),
                                         fhir_authorization=authorization)


def test_builder_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown hook"):
        hook_requests.build_hook_request("order-dispatch", small_patient_bundle())
    with pytest.raises(ValueError, match="draft order"):
        hook_requests.build_hook_request("order-sign", small_patient_bundle())
    with pytest.raises(ValueError, match="unknown prefetch"):
        hook_requests.build_hook_request("patient-view", small_patient_bundle(),
                                         prefetch=["patients"])


def test_prefetch_filter_keeps_observations_with_a_local_code_in_any_system() -> None:
    bundle = small_patient_bundle()
    frax = {"resourceType": "Observation", "id": "frax-local", "status": "final",
            "code": {"coding": [{"system": "urn:example-ehr:cds", "code": "frax-mof-10y"}]},
            "subject": {"reference": f"Patient/{bundle['entry'][0]['resource']['id']}"},
            "valueQuantity": {"value": 32, "unit": "%"}}
    bundle["entry"].append({"resource": frax})
    without = hook_requests.build_prefetch(bundle, observation_codes=["38267-1"])
    with_local = hook_requests.build_prefetch(
        bundle, observation_codes=["38267-1"], local_observation_codes=["frax-mof-10y"])
    ids = lambda prefetch: {e["resource"]["id"] for e in prefetch["observations"].get("entry", [])}  # noqa: E731
    assert "frax-local" not in ids(without)
    assert "frax-local" in ids(with_local)


def test_prefetch_keeps_exactly_what_the_service_accepts_as_this_patients() -> None:
    """The builder uses the record layer's own patient rule: a versioned reference is ours; a
    resource whose first reference (subject) names another patient is not, whatever `patient`
    says, so the builder never prefetches what the service would refuse with a 400."""
    bundle = small_patient_bundle()
    ours = f"Patient/{bundle['entry'][0]['resource']['id']}"
    versioned = {"resourceType": "Condition", "id": "versioned",
                 "subject": {"reference": f"{ours}/_history/2"}}
    mixed = {"resourceType": "Condition", "id": "mixed",
             "subject": {"reference": "Patient/someone-else"}, "patient": {"reference": ours}}
    bundle["entry"] += [{"resource": versioned}, {"resource": mixed}]
    ids = {e["resource"]["id"]
           for e in hook_requests.build_prefetch(bundle)["conditions"].get("entry", [])}
    assert "versioned" in ids
    assert "mixed" not in ids
