"""A resource type the FHIR server does not support is a partial gap, said in the card: only when
the server's CapabilityStatement omits it (whatever the search's 400, 403, 404, 501 status). A
400/404 for a type the CapabilityStatement lists, or with no usable CapabilityStatement (a wrong
base URL), is a failed search: 412, never "no data". Absence in an unsupported type is not
evidence of absence: no romosozumab proposal rests on Conditions the server cannot serve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

import fhir_fixtures
from service.app import create_app
from service.config import Settings
from service.errors import DataUnavailable
from service.evaluation.assess import assess
from service.evaluation.model import CardiovascularVerdict, RomosozumabDecision
from service.hook_requests import build_hook_request
from service.protocol.state import protocol_state
from service.record.gather import gather_record
from tests.conftest import CheckingClient
from tests.fhir_server.fixture import FhirServer, fhir_server, running_fhir_server
from tests.integration import fhir_support as support
from tests.integration.fault_server import running_fault_server
from tests.integration.test_fhir_gather import hand_written_bundle
from tests.personas.persona_cases import AS_OF

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


def test_404_without_a_capability_statement_is_412_and_metadata_is_read_once() -> None:
    """A FHIR server SHALL provide its CapabilityStatement: without one (a wrong base URL
    answers 404 everywhere) nothing says the type is unsupported, so the rejected searches fail
    and the hook answers 412 naming their keys (tests/record/test_operation_outcomes.py covers
    a metadata answer that is not a usable CapabilityStatement)."""
    with running_fault_server() as fault:  # every path answers 404, /metadata too
        with pytest.raises(DataUnavailable) as raised:
            gather_record(_only_conditions_absent(f"{fault.base}/unknown"),
                          settings=SETTINGS, templates=support.TEMPLATES)
        seen = [path for path, _ in fault.seen]
    assert raised.value.status == 412
    assert raised.value.message == (
        "FHIR data unavailable: conditions (the FHIR server answered HTTP 404); "
        "observations (the FHIR server answered HTTP 404)")
    assert sum(path.endswith("/metadata") for path in seen) == 1
    assert len(seen) == 3  # two searches, one metadata read


# ---- a server that cannot serve Conditions: no proposal rests on their absence ---------------

CONDITIONS_GAP = "Problems and diagnoses could not be read: not supported by the FHIR server"


@pytest.fixture(scope="module")
def without_conditions() -> Iterator[FhirServer]:
    """A FHIR server whose CapabilityStatement omits Condition (and whose Condition search
    answers 404), holding p01, p02 and p14."""
    with running_fhir_server(unsupported=("Condition",)) as server:
        for persona in ("p01", "p02", "p14"):
            server.load(fhir_fixtures.render_transaction(persona, AS_OF))
        yield server


@pytest.fixture(scope="module")
def capability_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = Settings(profile="dev", data_dir=tmp_path_factory.mktemp("capability-data"),
                        database_url=None, dev_as_of=AS_OF, fhir_deadline_seconds=30)
    flask_app = create_app(settings)
    flask_app.test_client_class = CheckingClient
    yield flask_app
    protocol_state(flask_app).store.close()


def _cards(app: Flask, server: FhirServer, persona: str) -> list[dict[str, Any]]:
    request = build_hook_request("patient-view", fhir_fixtures.render_persona(persona, AS_OF),
                                 prefetch="none", fhir_server=server.base_url)
    response = app.test_client().post("/cds-services/osteoporosis-patient-view", json=request)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _topics(cards: list[dict[str, Any]]) -> set[str]:
    return {card["source"].get("topic", {}).get("code", "") for card in cards}


@pytest.mark.parametrize("persona", ["p01", "p02"])
def test_no_romosozumab_proposal_without_conditions(
        capability_app: Flask, without_conditions: FhirServer, persona: str) -> None:
    """p01 gets a proposal with its Conditions; p02's MI (11 months ago) sits in Conditions the
    server cannot serve: neither may be told "No myocardial infarction or stroke found"."""
    cards = _cards(capability_app, without_conditions, persona)
    assert "romosozumab-proposal" not in _topics(cards)
    assert not any("No myocardial infarction" in card.get("detail", "") for card in cards)
    knowledge = protocol_state(capability_app).knowledge
    record = gather_record(
        support.hook_request(fhir_fixtures.patient_id(persona),
                             fhir_server=without_conditions.base_url),
        settings=SETTINGS, templates=support.TEMPLATES, interest=knowledge)
    assert [(g.resource_type, g.partial) for g in record.data_gaps] == [("Condition", True)]
    assessment = assess(record, AS_OF, knowledge)
    assert assessment.cardiovascular.verdict is CardiovascularVerdict.UNKNOWN
    assert assessment.romosozumab_decision is RomosozumabDecision.INSUFFICIENT_DATA
    assert CONDITIONS_GAP in assessment.data_gaps


def test_the_card_says_conditions_could_not_be_read(
        capability_app: Flask, without_conditions: FhirServer) -> None:
    """p14 (overdue denosumab) gets a proposal and a rebound-fracture card with its Conditions;
    without them, only the overdue card, which says the Conditions could not be read."""
    cards = _cards(capability_app, without_conditions, "p14")
    assert _topics(cards) == {"denosumab-overdue"}
    assert CONDITIONS_GAP in cards[0]["detail"]


def test_the_preview_refuses_a_server_without_condition_searches() -> None:
    """The preview posts what it read as a full prefetch: a Condition type the server cannot
    serve would read as "no conditions" there, so it says why it cannot show cards instead."""
    from service.preview.builder import fetch_patient_bundle

    with running_fhir_server(unsupported=("Condition",)) as server:
        patient_id = server.created_id(server.load(hand_written_bundle()), "Patient")
        with create_app(SETTINGS).app_context(), pytest.raises(DataUnavailable) as raised:
            fetch_patient_bundle(server.base_url, patient_id, None, SETTINGS)
    assert "does not support Condition searches" in raised.value.message
