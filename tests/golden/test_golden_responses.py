"""Two full responses compared byte for byte with golden files (deterministic uuids).

Regenerate after an intended wording or rule change with
`OSTEOCDS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden`, then review the diff like code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.app import create_app
from service.clinical import make_card_producer
from service.config import Settings
from service.protocol.state import protocol_state
from tests.cards.builders import counter_uuids
from tests.conftest import CheckingClient, post_json
from tests.personas.persona_cases import AS_OF, Case

GOLDEN_DIR = Path(__file__).parent
UPDATE = os.environ.get("OSTEOCDS_UPDATE_GOLDEN") == "1"
GOLDEN_CASES = {
    # a weaker agent selected for a very-high-risk woman: proposal with the replace suggestion
    "p01-order-select-alendronate": Case("p01", "order-select", "alendronate", frozenset()),
    # rebound fractures after denosumab plus a recent MI: rebound card and CV block
    "p15-patient-view": Case("p15", "patient-view", None, frozenset()),
}


def deterministic_producer(context: Any) -> list[dict[str, Any]]:
    """The real clinical producer with uuids counted from 1 for each call."""
    return make_card_producer(counter_uuids())(context)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(profile="dev", data_dir=tmp_path_factory.mktemp("data"),
                        database_url=None, dev_as_of=AS_OF)
    app = create_app(settings, card_producers=[deterministic_producer])
    app.test_client_class = CheckingClient
    yield app.test_client()
    protocol_state(app).store.close()


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_response_matches_golden_file(client: FlaskClient, name: str) -> None:
    case = GOLDEN_CASES[name]
    response = post_json(client, case.path, case.request())
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    text = json.dumps(response.get_json(), indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN_DIR / f"{name}.json"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with OSTEOCDS_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed"
