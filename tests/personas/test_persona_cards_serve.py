"""Smoke over a real `osteocds serve` process (gunicorn): one persona scenario per hook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.cards.invariants import check_cards
from tests.conftest import assert_valid_response
from tests.live_service import running_service
from tests.personas.persona_cases import AS_OF, all_cases, expected_indicator

SMOKE = ("p01-patient-view", "p01-order-select-alendronate", "p02-order-sign-romosozumab",
         "p12-order-select-teriparatide", "p14-patient-view", "p09-order-sign-romosozumab")
CASES = {case.id: case for case in all_cases()}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"OSTEOCDS_PROFILE": "dev", "OSTEOCDS_DEV_AS_OF": AS_OF.isoformat()}
    with running_service(tmp_path_factory.mktemp("serve"), env=env,
                         args=("--dev", "--workers", "1", "--threads", "4")) as service:
        yield service.base_url


@pytest.mark.integration
@pytest.mark.parametrize("case_id", SMOKE)
def test_persona_over_a_real_server(base_url: str, case_id: str) -> None:
    case = CASES[case_id]
    response = requests.post(f"{base_url}{case.path}", json=case.request(), timeout=30)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert_valid_response(body)
    cards = check_cards(body["cards"])
    topics = sorted(card["source"]["topic"]["code"] for card in cards)
    assert topics == sorted(case.topics)
    for card in cards:
        assert card["indicator"] == expected_indicator(case, card["source"]["topic"]["code"])
