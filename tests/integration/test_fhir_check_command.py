"""`osteocds check-fhir-server` against the real FHIR server and a failing one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.record.queries import PREFETCH_KEYS
from tests.fhir_server.fixture import FhirServer, fhir_server
from tests.integration.fault_server import running_fault_server
from tests.integration.test_fhir_gather import hand_written_bundle

pytestmark = pytest.mark.integration
__all__ = ["fhir_server"]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "check-fhir-server", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_reports_every_query_of_the_service(fhir_server: FhirServer) -> None:
    patient_id = fhir_server.created_id(fhir_server.load(hand_written_bundle()), "Patient")
    result = check(fhir_server.base_url, "--patient", patient_id, "--dev")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == set(PREFETCH_KEYS)
    assert rows["conditions"][1:4] == ["200", "5", "1"]  # status, entries, pages
    assert rows["medicationAdministrations"][2] == "5"
    assert rows["patient"][-1] == "ok"


def test_reports_failures_without_the_token() -> None:
    with running_fault_server() as server:
        result = check(f"{server.base}/status-401", "--patient", "p1", "--dev",
                       "--token", "cli-secret")
    assert result.returncode == 1
    assert "401" in result.stdout
    assert "cli-secret" not in result.stdout + result.stderr


def test_production_profile_refuses_http() -> None:
    result = check("http://127.0.0.1:9/fhir", "--patient", "p1")
    assert result.returncode == 2
    assert "https" in result.stdout
