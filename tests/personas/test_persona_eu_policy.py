"""The personas whose outcome changes under the `eu` cardiovascular policy, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

import fhir_fixtures
from service.app import create_app
from service.config import Settings
from service.protocol.state import protocol_state
from tests.cards.invariants import check_cards
from tests.conftest import CheckingClient, post_json
from tests.personas.persona_cases import AS_OF, Case

EU_PERSONAS = sorted(pid for pid, spec in fhir_fixtures.load_expected()["personas"].items()
                     if "eu" in spec)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(profile="dev", data_dir=tmp_path_factory.mktemp("data"),
                        database_url=None, dev_as_of=AS_OF, cardiovascular_policy="eu")
    app = create_app(settings)
    app.test_client_class = CheckingClient
    yield app.test_client()
    protocol_state(app).store.close()


def test_there_are_eu_personas() -> None:
    assert {"p03", "b02"} <= set(EU_PERSONAS)


@pytest.mark.parametrize("persona", EU_PERSONAS)
def test_eu_policy_patient_view(client: FlaskClient, persona: str) -> None:
    expected = fhir_fixtures.load_expected()["personas"][persona]["eu"]
    case = Case(persona, "patient-view", None, frozenset(expected["patient-view"]))
    response = post_json(client, case.path, case.request())
    assert response.status_code == 200
    cards = check_cards(response.get_json()["cards"])
    assert sorted(c["source"]["topic"]["code"] for c in cards) == sorted(case.topics)
    for card in cards:
        if card["source"]["topic"]["code"] == "romosozumab-cv-contraindication":
            assert card["indicator"] == "warning"
            assert "EU policy" in card["summary"] or "EU policy" in card["detail"]
