"""The record from the real FHIR server (no prefetch, small pages) equals the record from full
prefetch, for hand-written bundles and the Synthea patients in ../shared/data/synthea."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from service.errors import DataUnavailable
from service.hook_requests import build_hook_request, normalized_resources
from service.record.gather import gather_record
from service.record.model import MedicationSourceType
from tests.fhir_server.fixture import FhirServer, fhir_server, running_fhir_server
from tests.integration import fhir_support as support

pytestmark = pytest.mark.integration
__all__ = ["fhir_server"]  # the fixture, registered by import

SETTINGS = Settings(profile="dev", fhir_deadline_seconds=20, fhir_max_pages=200,
                    fhir_max_entries=20000)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    full_url = f"urn:uuid:{uuid.uuid4()}"
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}


def hand_written_bundle() -> dict[str, Any]:
    """A patient with enough resources of every kind that `_count=2` needs several pages."""
    patient = _entry({"resourceType": "Patient", "gender": "female", "birthDate": "1948-03"})
    subject = {"reference": patient["fullUrl"]}
    medication = _entry({"resourceType": "Medication", "code": {"coding": [
        {"system": RXNORM, "code": "2103172", "display": "romosozumab"}]}})
    entries = [patient, medication]
    for index, code in enumerate(["22298006", "64859006", "230690007", "443165006", "18718003"]):
        entries.append(_entry({
            "resourceType": "Condition", "subject": subject,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
            "onsetDateTime": f"20{15 + index}", "recordedDate": "2024-01-02",
            "verificationStatus": {"coding": [{"code": "refuted" if index == 4 else "confirmed"}]},
        }))
    for month in range(1, 6):
        entries.append(_entry({
            "resourceType": "MedicationAdministration", "status": "completed",
            "subject": subject, "medicationReference": {"reference": medication["fullUrl"]},
            "effectiveDateTime": f"2024-0{month}-15T08:00:00-05:00",
            "dosage": {"dose": {"value": 210, "unit": "mg"}},
        }))
    entries.append(_entry({
        "resourceType": "MedicationStatement", "status": "completed", "subject": subject,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "993449"}]},
        "effectivePeriod": {"start": "2019-01", "end": "2021"}}))
    for status in ("active", "draft", "completed"):
        entries.append(_entry({
            "resourceType": "MedicationRequest", "status": status, "intent": "order",
            "subject": subject, "authoredOn": "2018-06-01",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "904419"}]}}))
    for year, value in ((2019, -2.9), (2021, -3.2), (2023, -3.6)):
        for code in ("38267-1", "38263-0"):
            entries.append(_entry({
                "resourceType": "Observation", "status": "final", "subject": subject,
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "effectiveDateTime": f"{year}-05-05", "valueQuantity": {"value": value}}))
    entries.append(_entry({
        "resourceType": "Observation", "status": "final", "subject": subject,
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},  # height: ignored
        "effectiveDateTime": "2023-05-05", "valueQuantity": {"value": 160, "unit": "cm"}}))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _no_prefetch_and_prefetch(server: FhirServer, patient_id: str, count: int) -> tuple[Any, Any]:
    from_server = gather_record(
        support.hook_request(patient_id, fhir_server=server.base_url),
        settings=SETTINGS, templates=support.paged_templates(count))
    prefetch = support.prefetch_from_server(server.base_url, patient_id)
    from_prefetch = gather_record(
        support.hook_request(patient_id, prefetch, fhir_server=server.base_url),
        settings=SETTINGS, templates=support.TEMPLATES)
    return from_server, from_prefetch


def test_hand_written_patient_same_record_without_prefetch(fhir_server: FhirServer) -> None:
    created = fhir_server.load(hand_written_bundle())
    patient_id = fhir_server.created_id(created, "Patient")
    from_server, from_prefetch = _no_prefetch_and_prefetch(fhir_server, patient_id, count=2)
    assert from_server == from_prefetch
    record = from_server
    assert record.patient is not None
    assert record.patient.gender == "female"
    assert len(record.conditions) == 4  # the refuted one is dropped
    administrations = [m for m in record.medications
                       if m.source_type is MedicationSourceType.ADMINISTRATION]
    assert len(administrations) == 5
    assert {m.codings[0].code for m in administrations} == {"2103172"}  # fetched Medication
    assert len([m for m in record.medications
                if m.source_type is MedicationSourceType.REQUEST]) == 2  # draft is not history
    assert len(record.observations) == 6  # height is not asked for
    assert record.is_complete


def test_unsupported_type_is_a_gap_not_a_failure() -> None:
    with running_fhir_server(unsupported=("MedicationAdministration",)) as server:
        bundle = hand_written_bundle()
        bundle["entry"] = [e for e in bundle["entry"]
                           if e["resource"]["resourceType"] != "MedicationAdministration"]
        patient_id = server.created_id(server.load(bundle), "Patient")
        record = gather_record(support.hook_request(patient_id, fhir_server=server.base_url),
                               settings=SETTINGS, templates=support.TEMPLATES)
    assert [(g.resource_type, g.reason) for g in record.data_gaps] == [
        ("MedicationAdministration", "not supported by the FHIR server")]
    assert len(record.conditions) == 4


def test_bearer_token_is_sent_and_required() -> None:
    with running_fhir_server(token="integration-token") as server:
        patient_id = server.created_id(server.load(hand_written_bundle()), "Patient")
        with_token = gather_record(
            support.hook_request(patient_id, fhir_server=server.base_url,
                                 token="integration-token"),
            settings=SETTINGS, templates=support.TEMPLATES)
        assert len(with_token.conditions) == 4
        with pytest.raises(DataUnavailable) as raised:
            gather_record(support.hook_request(patient_id, fhir_server=server.base_url,
                                               token="wrong-token"),
                          settings=SETTINGS, templates=support.TEMPLATES)
        assert "401" in raised.value.message
        assert "wrong-token" not in raised.value.message


def test_parallel_fetch_wall_time_close_to_the_slowest_query(fhir_server: FhirServer) -> None:
    """Six queries in parallel: the whole gather is far less than the sum of query times."""
    from service.record.fhir_client import Deadline, FhirClient
    from service.record.queries import fill_template

    patient_id = fhir_server.created_id(fhir_server.load(hand_written_bundle()), "Patient")
    client = FhirClient(fhir_server.base_url, token=None, settings=SETTINGS)
    jobs = {k: fill_template(t, patient_id) for k, t in support.paged_templates(1).items()}
    started = time.monotonic()
    results = client.fetch(jobs, Deadline(20))
    wall = time.monotonic() - started
    slowest = max(r.seconds for r in results.values())
    total = sum(r.seconds for r in results.values())
    print(f"parallel fetch: wall {wall:.3f}s, slowest {slowest:.3f}s, sum {total:.3f}s")
    assert all(r.outcome == "ok" for r in results.values())
    assert wall < slowest + 0.25
    assert wall < total


def _synthea_files() -> list[Any]:
    if not support.SYNTHEA_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"Synthea data not found at {support.SYNTHEA_DIR} (../shared is absent in "
                   "user clones)"))]
    return sorted(support.SYNTHEA_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def synthea_server() -> Iterator[tuple[FhirServer, dict[Path, dict[str, Any]]]]:
    """One server holding every Synthea patient under its own ids (PUT: distinct UUIDs).

    Searches stay fast with all of them loaded: the server puts the subject filter first."""
    bundles = {path: json.loads(path.read_text()) for path in _synthea_files() if path}
    with running_fhir_server() as server:
        for bundle in bundles.values():
            server.load(put_transaction(bundle))
        yield server, bundles


def put_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle's resources (urn:uuid references rewritten to Type/id) as PUTs on their ids."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": resource,
         "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}
        for resource in normalized_resources(bundle)]}


@pytest.mark.parametrize("path", _synthea_files(), ids=lambda p: p.name[:20] if p else "absent")
def test_synthea_patient_same_record_without_prefetch(
        path: Path, synthea_server: tuple[FhirServer, dict[Path, dict[str, Any]]]) -> None:
    """No prefetch (pages of 40, following next links) equals the prefetch an EHR builds from
    its own data (the Synthea bundle, Observations filtered by the template's codes)."""
    server, bundles = synthea_server
    bundle = bundles[path]
    prefetched = build_hook_request(
        "patient-view", bundle, prefetch="full",
        observation_codes=support.KNOWLEDGE.prefetch_observation_codes(),
        local_observation_codes=support.KNOWLEDGE.prefetch_local_observation_codes())
    patient_id = prefetched["context"]["patientId"]
    from_server = gather_record(support.hook_request(patient_id, fhir_server=server.base_url),
                                settings=SETTINGS, templates=support.paged_templates(40))
    from_prefetch = gather_record(prefetched, settings=SETTINGS, templates=support.TEMPLATES)
    assert from_server == from_prefetch
    assert from_server.patient is not None
    assert from_server.conditions  # every Synthea patient has conditions
