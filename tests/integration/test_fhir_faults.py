"""A failing FHIR server gives 412 within the deadline; the token never leaves fhirServer."""

from __future__ import annotations

import time
from typing import Any

import pytest

from service.config import Settings
from service.errors import DataUnavailable
from service.record.gather import gather_record
from tests.integration import fhir_support as support
from tests.integration.fault_server import running_fault_server

pytestmark = pytest.mark.integration

DEADLINE = 1.0
MARGIN = 0.5  # thread scheduling on a loaded 2-core CI machine
TOKEN = "fault-test-token"


def gather(base: str, **settings: Any) -> None:
    config = Settings(profile="dev", fhir_deadline_seconds=DEADLINE, **settings)
    gather_record(support.hook_request("p1", fhir_server=base, token=TOKEN),
                  settings=config, templates=support.TEMPLATES)


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("stall", "timed out"),
        ("drip", "timed out"),
        ("silent", "timed out"),
        ("status-500", "HTTP 500"),
        ("status-401", "HTTP 401"),
        ("status-503", "HTTP 503"),
        ("garbage", "malformed JSON"),
        ("sign-in-page", "answered an HTML page, not FHIR JSON (a sign-in or proxy page?"),
        ("patient", "did not answer a Bundle"),
        ("endless", ""),
        ("repeat", "repeated a next link"),
        ("foreign-next", "outside the FHIR server"),
        ("redirect", "redirected"),
    ],
)
def test_fault_gives_412_within_the_deadline(mode: str, detail: str) -> None:
    with running_fault_server() as server:
        started = time.monotonic()
        with pytest.raises(DataUnavailable) as raised:
            gather(f"{server.base}/{mode}", fhir_max_pages=10_000)
        elapsed = time.monotonic() - started
        seen = list(server.seen)
    print(f"{mode}: 412 after {elapsed:.3f}s (deadline {DEADLINE}s)")
    assert elapsed <= DEADLINE + MARGIN
    assert raised.value.status == 412
    assert detail in raised.value.message
    assert TOKEN not in raised.value.message
    assert "p1" not in raised.value.message.replace("http", "")
    assert seen, "the client never reached the server"
    assert all(auth == f"Bearer {TOKEN}" for _, auth in seen)  # only fhirServer saw requests


def test_page_bound_stops_an_endless_next_link_early() -> None:
    with running_fault_server() as server, pytest.raises(DataUnavailable) as raised:
        gather(f"{server.base}/endless", fhir_max_pages=3)
    assert "more than 3 pages" in raised.value.message


def test_503_is_retried_inside_the_deadline() -> None:
    with running_fault_server() as server, pytest.raises(DataUnavailable):
        gather(f"{server.base}/status-503")
        # 6 queries, each tried up to 3 times
    condition_calls = [path for path, _ in server.seen if "/Condition" in path]
    assert 2 <= len(condition_calls) <= 3


def test_production_refuses_plain_http_fhir_server() -> None:
    with pytest.raises(DataUnavailable, match="https"):
        gather_record(support.hook_request("p1", fhir_server="http://127.0.0.1:9/fhir"),
                      settings=Settings(), templates=support.TEMPLATES)
