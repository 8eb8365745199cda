"""Issue 3's "done when": through the real Flask app, the no-prefetch path against the real FHIR
server gives the same cards (and the same PatientRecord) as full prefetch, for every fixture
persona: patient-view for each, and order-select for each persona with an order scenario in
``fhir_fixtures/expected.json``.

Speed: every persona is loaded once (PUT on stable ids, idempotent) into the session FHIR server.
The no-prefetch call runs the service's real queries through the app (Medplum's in-memory
Observation search with the code list and `_sort` is the slow part); the PatientRecord each call
builds is captured by an extra card producer, so no query runs twice for the record check. Each
order-select with no prefetch reuses nothing on purpose: it is the order hook's own FHIR path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import fhir_fixtures
from service.app import create_app
from service.clinical import produce_cards
from service.config import Settings
from service.hook_requests import build_hook_request
from service.hooks import HookContext
from service.protocol.state import protocol_state
from service.record.gather import gather_record
from service.record.model import PatientRecord
from service.record.queries import prefetch_templates
from tests.conftest import CheckingClient
from tests.fhir_server.fixture import FhirServer, fhir_server
from tests.integration import fhir_support as support

pytestmark = pytest.mark.integration
__all__ = ["fhir_server"]  # the fixture, registered by import

EXPECTED = fhir_fixtures.load_expected()
AS_OF = date.fromisoformat(EXPECTED["reference_as_of"])
PERSONAS = fhir_fixtures.persona_ids()
ORDER_SCENARIOS = [
    (persona, scenario["order"])
    for persona in PERSONAS
    for scenario in EXPECTED["personas"][persona]["hooks"].get("order-select", [])
]
SERVICE = {"patient-view": "/cds-services/osteoporosis-patient-view",
           "order-select": "/cds-services/osteoporosis-order-select"}


class RecordCapture:
    """A card producer that keeps the PatientRecord of every hook call (adds no card)."""

    def __init__(self) -> None:
        self.records: dict[str, PatientRecord] = {}

    def __call__(self, context: HookContext) -> Sequence[Mapping[str, Any]]:
        self.records[context.hook_instance] = context.record
        return []


@pytest.fixture(scope="module")
def capture() -> RecordCapture:
    return RecordCapture()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, capture: RecordCapture) -> Iterator[Flask]:
    data_dir: Path = tmp_path_factory.mktemp("cards-data")
    settings = Settings(profile="dev", data_dir=data_dir, database_url=None, dev_as_of=AS_OF,
                        fhir_deadline_seconds=30, fhir_max_pages=200)
    flask_app = create_app(settings, card_producers=[produce_cards, capture])
    flask_app.test_client_class = CheckingClient  # every response checked against the schema
    yield flask_app
    protocol_state(flask_app).store.close()


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirServer) -> FhirServer:
    """Every persona on the FHIR server, rendered for AS_OF (timed: printed with -s)."""
    started = time.monotonic()
    for persona in PERSONAS:
        fhir_server.load(fhir_fixtures.render_transaction(persona, AS_OF))
    print(f"\nloaded {len(PERSONAS)} personas in {time.monotonic() - started:.2f}s")
    return fhir_server


def call(app: Flask, hook: str, request: dict[str, Any]) -> tuple[list[dict], PatientRecord]:
    """POST one hook request to the app; its cards (uuids removed) and the record it built."""
    response = app.test_client().post(SERVICE[hook], json=request)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    capture: RecordCapture = next(p for p in protocol_state(app).card_producers
                                  if isinstance(p, RecordCapture))
    return [without_uuids(card) for card in response.get_json()["cards"]], capture.records[
        request["hookInstance"]]


def without_uuids(value: Any) -> Any:
    """The card with every `uuid` removed (they are fresh per response)."""
    if isinstance(value, dict):
        return {key: without_uuids(item) for key, item in value.items() if key != "uuid"}
    if isinstance(value, list):
        return [without_uuids(item) for item in value]
    return value


def headline(cards: list[dict]) -> list[tuple[str, str, str]]:
    """(topic, indicator, summary) per card: the part a clinician sees first."""
    return [(card["source"].get("topic", {}).get("code", ""), card["indicator"], card["summary"])
            for card in cards]


def both_ways(app: Flask, server: FhirServer, hook: str, persona: str,
              **draft: Any) -> tuple[tuple[list, PatientRecord], tuple[list, PatientRecord]]:
    bundle = fhir_fixtures.render_persona(persona, AS_OF)
    knowledge = protocol_state(app).knowledge
    full = build_hook_request(
        hook, bundle, prefetch="full", observation_codes=knowledge.prefetch_observation_codes(),
        local_observation_codes=knowledge.prefetch_local_observation_codes(), **draft)
    none = build_hook_request(hook, bundle, prefetch="none", fhir_server=server.base_url,
                              **draft)
    return call(app, hook, full), call(app, hook, none)


@pytest.mark.parametrize("persona", PERSONAS)
def test_patient_view_same_cards_and_record_without_prefetch(
        app: Flask, loaded: FhirServer, persona: str) -> None:
    (full_cards, full_record), (fetched_cards, fetched_record) = both_ways(
        app, loaded, "patient-view", persona)
    assert headline(fetched_cards) == headline(full_cards)
    assert fetched_cards == full_cards  # detail, links and suggestions too
    assert fetched_record == full_record
    expected_topics = set(EXPECTED["personas"][persona]["hooks"]["patient-view"]["topics"])
    assert {topic for topic, _, _ in headline(fetched_cards)} == expected_topics


def test_local_codes_fetch_the_local_frax(loaded: FhirServer) -> None:
    """The service's templates carry the knowledge data's local codes: p16's local FRAX is
    fetched, and would not be with LOINC codes alone."""
    loinc_only = prefetch_templates(support.KNOWLEDGE.prefetch_observation_codes())
    request = support.hook_request(fhir_fixtures.patient_id("p16"), fhir_server=loaded.base_url)
    with_local = gather_record(request, settings=Settings(profile="dev"),
                               templates=support.TEMPLATES)
    without = gather_record(request, settings=Settings(profile="dev"), templates=loinc_only)
    local_codings = {c.code for o in with_local.observations for c in o.codings} - {
        c.code for o in without.observations for c in o.codings}
    assert local_codings == {"frax-mof-10y", "frax-hip-10y"}


@pytest.mark.parametrize(("persona", "order"), ORDER_SCENARIOS,
                         ids=[f"{p}-{o}" for p, o in ORDER_SCENARIOS])
def test_order_select_same_cards_and_record_without_prefetch(
        app: Flask, loaded: FhirServer, persona: str, order: str) -> None:
    draft = fhir_fixtures.draft_order(order, persona, AS_OF)
    (full_cards, full_record), (fetched_cards, fetched_record) = both_ways(
        app, loaded, "order-select", persona, draft_orders=[draft])
    assert headline(fetched_cards) == headline(full_cards)
    assert fetched_cards == full_cards
    assert fetched_record == full_record
    assert fetched_record.selected_orders
