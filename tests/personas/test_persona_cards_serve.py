"""Smoke over a real `osteocds serve` process (gunicorn): one persona scenario per hook."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cards.invariants import check_cards
from tests.conftest import assert_valid_response
from tests.personas.persona_cases import AS_OF, all_cases, expected_indicator

SMOKE = ("p01-patient-view", "p01-order-select-alendronate", "p02-order-sign-romosozumab",
         "p12-order-select-teriparatide", "p14-patient-view", "p09-order-sign-romosozumab")
CASES = {case.id: case for case in all_cases()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "OSTEOCDS_PROFILE": "dev", "OSTEOCDS_DEV_AS_OF": AS_OF.isoformat(),
           "OSTEOCDS_DATA_DIR": str(tmp_path_factory.mktemp("serve-data"))}
    env.pop("OSTEOCDS_DATABASE_URL", None)
    exe = Path(sys.executable).with_name("osteocds")
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(exe), "serve", "--dev", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--threads", "4"], env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "osteocds serve did not start in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
