"""An https FHIR server whose certificate comes from a hospital-internal CA: unreachable (412
saying TLS, never the URL) until `OSTEOCDS_FHIR_CA_BUNDLE` names that CA; a missing bundle
stops the service at start-up; `check-fhir-server` reads the same setting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.config import Settings
from service.record.fhir_client import TLS_UNVERIFIED_DETAIL
from tests.conftest import assert_operation_outcome, post_json
from tests.integration import fhir_support as support
from tests.integration.fault_server import CertificateFiles, make_test_ca, running_stub_server
from tests.live_service import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SERVICE = "/cds-services/osteoporosis-patient-view"
PATIENT_ID = "tls-patient-4821"
TOKEN = "tls-test-token"
VARIABLE = "OSTEOCDS_FHIR_CA_BUNDLE"


@pytest.fixture
def certificates(tmp_path: Path) -> CertificateFiles:
    return make_test_ca(tmp_path)


@pytest.fixture
def https_server(certificates: CertificateFiles) -> Iterator[Any]:
    with running_stub_server(certificate=certificates) as server:
        yield server


def call(app: Flask, base: str) -> Any:
    """A patient-view without prefetch: every key is fetched from `base`."""
    request = support.hook_request(PATIENT_ID, fhir_server=base, token=TOKEN)
    return post_json(app.test_client(), SERVICE, request)


def test_an_internal_ca_without_the_setting_is_a_412_that_says_tls(
        make_app: Callable[..., Flask], https_server: Any) -> None:
    response = call(make_app(), https_server.base)
    issue = assert_operation_outcome(response, 412, "incomplete")
    diagnostics = issue["diagnostics"]
    assert TLS_UNVERIFIED_DETAIL in diagnostics
    assert "could not connect" not in diagnostics
    for secret in ("127.0.0.1", https_server.base, TOKEN, PATIENT_ID):
        assert secret not in diagnostics


def test_the_ca_bundle_setting_makes_the_server_reachable(
        make_app: Callable[..., Flask], https_server: Any,
        certificates: CertificateFiles) -> None:
    response = call(make_app(fhir_ca_bundle=certificates.ca_cert), https_server.base)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["cards"] == []  # a woman with no data: nothing to say


def test_the_ca_bundle_may_be_a_directory(tmp_path: Path) -> None:
    assert Settings(fhir_ca_bundle=tmp_path).fhir_ca_bundle == tmp_path


def test_an_empty_ca_bundle_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "")
    assert Settings().fhir_ca_bundle is None  # not Path(""), the current directory


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file or directory"),
    (b"not a certificate\n", "not a readable PEM file of CA certificates"),
])
def test_a_missing_or_unreadable_ca_bundle_is_refused(
        tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "hospital-ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        Settings(fhir_ca_bundle=path)


def osteocds(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as an operator runs it (no OSTEOCDS_* from the test environment)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    environment.update(OSTEOCDS_DATA_DIR=str(tmp_path / "data"), **env)
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=120,
                          check=False)


def test_serve_stops_with_exit_status_2_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "hospital-ca.pem"
    result = osteocds(["serve", "--dev", "--host", "127.0.0.1", "--port", str(free_port())],
                      tmp_path, **{VARIABLE: str(missing)})
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"osteocds: configuration error: {VARIABLE}: "), result.stderr
    assert "Traceback" not in result.stderr
    assert str(missing) not in result.stderr


def test_check_fhir_server_reads_the_ca_bundle_setting(
        tmp_path: Path, https_server: Any, certificates: CertificateFiles) -> None:
    args = ["check-fhir-server", https_server.base, "--patient", PATIENT_ID]  # production: https
    refused = osteocds(args, tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert TLS_UNVERIFIED_DETAIL in refused.stdout
    trusted = osteocds(args, tmp_path, **{VARIABLE: str(certificates.ca_cert)})
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "failed" not in trusted.stdout
