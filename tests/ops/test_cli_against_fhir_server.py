"""The integration-engineer CLI against real processes: the Node FHIR server of the integration
tests and a real `osteocds serve --dev`.

- `osteocds fixtures load` twice: every persona's resources are on the server exactly once.
- `osteocds fire` with and without prefetch prints the cards expected.json promises for the persona,
  hook and drafted drug, readably and as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

import fhir_fixtures
from tests.fhir_server.fixture import FhirServer, running_fhir_server
from tests.live_service import LiveService, running_service

pytestmark = pytest.mark.integration

TOKEN = "fixture-loader-secret-token"
# Personas with distinct expectations; the volume personas (v..) are left out to keep searches fast.
FIRE_CASES = [
    ("p01", "patient-view", None),
    ("p01", "order-select", "alendronate"),
    ("p01", "order-sign", "romosozumab"),
    ("b01", "patient-view", None),
]


def osteocds(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def count(server: FhirServer, resource_type: str) -> int:
    response = server.session.get(f"{server.base_url}/{resource_type}",
                                  params={"_summary": "count"}, timeout=60)
    response.raise_for_status()
    return int(response.json()["total"])


def expected_counts(personas: list[str], as_of: date) -> Counter[str]:
    counts: Counter[str] = Counter()
    for persona in personas:
        for resource in fhir_fixtures.patient_resources(persona, as_of):
            counts[resource["resourceType"]] += 1
    return counts


@pytest.fixture(scope="module")
def loaded_server() -> Iterator[tuple[FhirServer, list[subprocess.CompletedProcess[str]]]]:
    """A fresh FHIR server (bearer token required) loaded twice by `osteocds fixtures load`."""
    with running_fhir_server(token=TOKEN) as server:
        runs = [osteocds("fixtures", "load", "--fhir-server", server.base_url, "--token", TOKEN)
                for _ in range(2)]
        yield server, runs


@pytest.fixture(scope="module")
def live_service(tmp_path_factory) -> Iterator[LiveService]:
    work = tmp_path_factory.mktemp("serve")
    # The in-memory test server scans linearly: give the service's FHIR queries a generous budget.
    env = {"OSTEOCDS_FHIR_DEADLINE_SECONDS": "25"}
    with running_service(work, args=("--dev", "--workers", "1"), env=env) as service:
        yield service


def test_fixtures_load_twice_leaves_no_duplicates(loaded_server):
    server, runs = loaded_server
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    personas = fhir_fixtures.persona_ids()
    as_of = date.today()
    for resource_type, expected in sorted(expected_counts(personas, as_of).items()):
        assert count(server, resource_type) == expected, resource_type
    second = runs[1]
    printed_ids = [line.split("\t")[0] for line in second.stdout.splitlines()]
    assert printed_ids == [fhir_fixtures.patient_id(p) for p in personas]
    for patient_id in printed_ids[:3]:
        assert server.session.get(f"{server.base_url}/Patient/{patient_id}",
                                  timeout=30).status_code == 200


def test_fixtures_load_shows_progress_and_never_prints_the_token(loaded_server):
    _, runs = loaded_server
    total = len(fhir_fixtures.persona_ids())
    assert f"{total} of {total} patients loaded" in runs[0].stderr
    assert "[" in runs[0].stderr
    for run in runs:
        assert TOKEN not in run.stdout + run.stderr


def test_fixtures_load_without_the_token_fails_clearly(loaded_server):
    server, _ = loaded_server
    run = osteocds("fixtures", "load", "--fhir-server", server.base_url, "--persona", "p01")
    assert run.returncode == 1
    assert "p01: HTTP 401" in run.stderr


def test_fixtures_load_reports_an_unreachable_server():
    run = osteocds("fixtures", "load", "--fhir-server", "http://127.0.0.1:9/fhir",
                   "--persona", "p02", timeout=60)
    assert run.returncode == 1
    assert "cannot reach the FHIR server" in run.stderr


def _fire(server: FhirServer, service: LiveService, persona: str, hook: str, drug: str | None,
          *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["fire", hook, "--patient", fhir_fixtures.patient_id(persona),
            "--fhir-server", server.base_url, "--token", TOKEN, "--service", service.base_url,
            *extra]
    if drug:
        args += ["--order", drug]
    return osteocds(*args, timeout=120)


def _expected_topics(persona: str, hook: str, drug: str | None) -> list[str]:
    hooks = fhir_fixtures.load_expected()["personas"][persona]["hooks"]
    if hook == "patient-view":
        return sorted(hooks[hook]["topics"])
    case = next(c for c in hooks[hook] if c["order"] == drug)
    return sorted(case["topics"])


def _topics(response: dict[str, Any]) -> list[str]:
    return sorted(card["source"]["topic"]["code"] for card in response["cards"])


@pytest.mark.parametrize(("persona", "hook", "drug"), FIRE_CASES)
@pytest.mark.parametrize("prefetch", ["--prefetch", "--no-prefetch"])
def test_fire_returns_the_expected_cards(loaded_server, live_service, persona, hook, drug,
                                         prefetch):
    server, _ = loaded_server
    run = _fire(server, live_service, persona, hook, drug, prefetch, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _topics(json.loads(run.stdout)) == _expected_topics(persona, hook, drug)
    assert TOKEN not in run.stdout + run.stderr


def test_fire_prints_cards_readably(loaded_server, live_service):
    server, _ = loaded_server
    raw = json.loads(_fire(server, live_service, "p01", "patient-view", None, "--json").stdout)
    run = _fire(server, live_service, "p01", "patient-view", None)
    assert run.returncode == 0, run.stderr[-2000:]
    assert raw["cards"], "p01 is expected to get a card on patient-view"
    for number, card in enumerate(raw["cards"], start=1):
        assert f"{number}. [{card['indicator'].upper()}] {card['summary']}" in run.stdout
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"] in run.stdout
    assert "\x1b[" not in run.stdout, "no colour codes when stdout is not a terminal"


def test_fire_explains_a_service_error(loaded_server, live_service):
    server, _ = loaded_server
    run = osteocds("fire", "patient-view", "--patient", "osteocds-p01", "--fhir-server",
                   server.base_url, "--service", live_service.base_url, "--order", "denosumab")
    assert run.returncode == 1
    assert "--order applies to order-select and order-sign only" in run.stderr


def test_fire_without_the_fhir_token_reports_the_412(loaded_server, live_service):
    server, _ = loaded_server
    run = osteocds("fire", "patient-view", "--patient", "osteocds-p01", "--no-prefetch",
                   "--fhir-server", server.base_url, "--service", live_service.base_url,
                   timeout=120)
    assert run.returncode == 1
    assert "HTTP 412" in run.stderr


def test_fire_template_filling() -> None:
    from service.commands.fire import fill_template

    context = {"patientId": "a b", "userId": "Practitioner/pr-1"}
    assert fill_template("Patient/{{context.patientId}}", context) == "Patient/a%20b"
    assert fill_template("X?performer={{userPractitionerId}}", context) == "X?performer=pr-1"
    assert fill_template("X?p={{context.encounterId}}", context) is None
    assert fill_template("X?p={{userPatientId}}", context) is None


