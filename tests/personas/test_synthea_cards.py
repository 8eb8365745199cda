"""The ten Synthea patients of ../shared through every hook over HTTP: valid cards, no crash.

Skips (with the reason) in a clone without ../shared beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.app import create_app
from service.config import Settings
from service.hook_requests import build_hook_request
from service.protocol.state import protocol_state
from tests.cards.invariants import check_cards
from tests.conftest import CheckingClient, post_json
from tests.personas.persona_cases import AS_OF, SERVICE_IDS

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea"
FILES = sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []
ROMOSOZUMAB_DRAFT = {"resourceType": "MedicationRequest", "id": "draft-romo",
                     "status": "draft", "intent": "order",
                     "medicationCodeableConcept": {"coding": [{
                         "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                         "code": "2123184"}]}}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(profile="dev", data_dir=tmp_path_factory.mktemp("data"),
                        database_url=None, dev_as_of=AS_OF)
    app = create_app(settings)
    app.test_client_class = CheckingClient
    yield app.test_client()
    protocol_state(app).store.close()


@pytest.mark.skipif(not FILES, reason=f"{SYNTHEA} is absent (../shared not beside the clone)")
@pytest.mark.parametrize("path", FILES, ids=[p.stem.split("_")[0] for p in FILES])
def test_synthea_patient_gets_valid_cards_on_every_hook(client: FlaskClient, path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    for hook, service in SERVICE_IDS.items():
        orders = [ROMOSOZUMAB_DRAFT] if hook != "patient-view" else []
        body = build_hook_request(hook, bundle, draft_orders=orders)
        response = post_json(client, f"/cds-services/{service}", body)
        assert response.status_code == 200, (hook, response.get_data(as_text=True)[:300])
        check_cards(response.get_json()["cards"])
