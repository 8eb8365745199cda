"""A real `osteocds serve --dev` stays healthy while hook calls are stuck on a bad FHIR server.

Six patient-view calls without prefetch point at the fault server's stall and drip modes: each
must answer 412 within the FHIR deadline (plus HTTP and scheduling slack), and `/healthz` must
answer quickly (< 0.5 s) while they hang.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import assert_operation_outcome
from tests.integration.fault_server import running_fault_server
from tests.live_service import running_service
from tests.protocol.examples import hook_request
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

DEADLINE = 1.5
SLACK = 1.5  # HTTP round trip, gunicorn thread hand-off, a loaded 2-core CI machine
HEALTH_LIMIT = 0.5
TOKEN = "serve-fault-token"
QUERIES = 6  # the six prefetch keys, each fetched in parallel
MODES = ("stall", "drip", "stall", "drip", "stall", "drip")


def _stuck_call(base_url: str, fhir_base: str) -> tuple[int, float, str]:
    request = hook_request("patient-view", prefetch="none", fhir_server=fhir_base,
                           fhir_authorization={"access_token": TOKEN, "token_type": "Bearer",
                                               "expires_in": 300, "scope": "patient/*.read",
                                               "subject": "osteocds"})
    started = time.monotonic()
    response = requests.post(f"{base_url}/cds-services/osteoporosis-patient-view",
                             json=request, timeout=30)
    elapsed = time.monotonic() - started
    assert_operation_outcome(response, 412)
    return response.status_code, elapsed, response.text


def test_healthz_answers_while_hook_calls_hang_and_they_get_412(tmp_path: Path) -> None:
    env = {"OSTEOCDS_FHIR_DEADLINE_SECONDS": str(DEADLINE)}
    args = ("--dev", "--threads", "8", "--workers", "1")
    with (running_fault_server() as fault, running_service(tmp_path, args=args, env=env) as server,
          ThreadPoolExecutor(max_workers=len(MODES)) as pool):
        calls = [pool.submit(_stuck_call, server.base_url, f"{fault.base}/{mode}")
                 for mode in MODES]
        # every call is inside the service, its six queries stuck on the fault server
        assert wait_for(lambda: len(fault.seen) >= QUERIES * len(MODES), DEADLINE)
        health_times = []
        for _ in range(5):
            started = time.monotonic()
            health = requests.get(f"{server.base_url}/healthz", timeout=5)
            health_times.append(time.monotonic() - started)
            assert health.status_code == 200
            time.sleep(0.05)
        assert not all(call.done() for call in calls), "the calls were not stuck meanwhile"
        results = [call.result(timeout=30) for call in calls]
    print(f"healthz {max(health_times):.3f}s max; 412 after "
          f"{', '.join(f'{elapsed:.2f}s' for _, elapsed, _ in results)}")
    assert max(health_times) < HEALTH_LIMIT
    for status, elapsed, text in results:
        assert status == 412
        assert elapsed < DEADLINE + SLACK
        assert "timed out" in text
        assert TOKEN not in text
    assert all(auth == f"Bearer {TOKEN}" for _, auth in fault.seen)
