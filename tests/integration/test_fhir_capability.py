"""A resource type the FHIR server does not support is "no data", said in the card: by a 400/404
on the search, or by the CapabilityStatement when the server answers another status (403, 501).
A 400 for a type the CapabilityStatement lists is a rejected search: 412, never "no data"."""

from __future__ import annotations

from typing import Any

import pytest

from service.config import Settings
from service.errors import DataUnavailable
from service.record.gather import gather_record
from tests.fhir_server.fixture import FhirServer, fhir_server, running_fhir_server
from tests.integration import fhir_support as support
from tests.integration.fault_server import running_fault_server
from tests.integration.test_fhir_gather import hand_written_bundle

pytestmark = pytest.mark.integration
__all__ = ["fhir_server"]  # the fixture, registered by import

SETTINGS = Settings(profile="dev", fhir_deadline_seconds=20)
UNSUPPORTED_GAP = ("MedicationAdministration", "not supported by the FHIR server")


def _without_administrations() -> dict[str, Any]:
    bundle = hand_written_bundle()
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"]["resourceType"] != "MedicationAdministration"]
    return bundle


@pytest.mark.parametrize("status", [501, 403])
def test_capability_statement_says_unsupported(status: int) -> None:
    with running_fhir_server(unsupported=("MedicationAdministration",),
                             unsupported_status=status) as server:
        patient_id = server.created_id(server.load(_without_administrations()), "Patient")
        record = gather_record(support.hook_request(patient_id, fhir_server=server.base_url),
                               settings=SETTINGS, templates=support.TEMPLATES)
    assert [(g.resource_type, g.reason) for g in record.data_gaps] == [UNSUPPORTED_GAP]
    assert len(record.conditions) == 4


@pytest.mark.parametrize(("mode", "metadata_reads"), [("status-403", 1), ("status-401", 0)])
def test_403_or_401_without_the_capability_statements_word_is_412(mode: str,
                                                                   metadata_reads: int) -> None:
    """403 asks the CapabilityStatement (unreadable here): a failure, not "no data"; a 401 is
    an authorization failure and asks nothing."""
    with running_fault_server() as fault, pytest.raises(DataUnavailable) as raised:
        gather_record(_only_conditions_absent(f"{fault.base}/{mode}"),
                      settings=SETTINGS, templates=support.TEMPLATES)
    assert f"HTTP {mode[-3:]}" in raised.value.message
    assert sum(path.endswith("/metadata") for path, _ in fault.seen) == metadata_reads


def test_400_on_a_type_the_server_lists_is_412(fhir_server: FhirServer) -> None:
    patient_id = fhir_server.created_id(fhir_server.load(hand_written_bundle()), "Patient")
    templates = dict(support.TEMPLATES)
    templates["conditions"] += "&onset-date=notadate"  # Medplum answers 400
    with pytest.raises(DataUnavailable) as raised:
        gather_record(support.hook_request(patient_id, fhir_server=fhir_server.base_url),
                      settings=SETTINGS, templates=templates)
    assert "conditions (the FHIR server answered HTTP 400)" in raised.value.message


def _only_conditions_absent(base: str) -> dict[str, Any]:
    prefetch: dict[str, Any] = {key: None for key in support.TEMPLATES}
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1", "gender": "female",
                           "birthDate": "1950"}
    del prefetch["conditions"]
    del prefetch["observations"]
    return support.hook_request("p1", prefetch, fhir_server=base)


def test_404_without_a_capability_statement_is_no_data_and_metadata_is_read_once() -> None:
    with running_fault_server() as fault:  # every path answers 404, /metadata too
        record = gather_record(_only_conditions_absent(f"{fault.base}/unknown"),
                               settings=SETTINGS, templates=support.TEMPLATES)
        seen = [path for path, _ in fault.seen]
    assert {gap.resource_type for gap in record.data_gaps} == {"Condition", "Observation"}
    assert sum(path.endswith("/metadata") for path in seen) == 1
    assert len(seen) == 3  # two searches, one metadata read
