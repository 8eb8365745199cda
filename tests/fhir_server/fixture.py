"""A real FHIR R4 server process for tests: `tests/fhir_server/server.js` (Medplum 4.5.2, in
memory).

Use it from any test module:

    from tests.fhir_server.fixture import fhir_server  # noqa: F401  (registers the fixture)

    def test_something(fhir_server: FhirServer) -> None:
        ids = fhir_server.load(transaction_bundle)      # POST the Bundle as a transaction
        patient_id = ids["urn:uuid:..."]               # fullUrl -> "Patient/<new id>"; or:
        patient_id = fhir_server.created_id(response, "Patient")
        fhir_server.base_url                            # "http://127.0.0.1:<port>/fhir"

`fhir_server` is session-scoped (one Node process, about 1.5 s to start): load your own patients
and never assume the store is empty. For a server with a bearer-token check or with resource types
that answer 404 ("not supported"), start your own:

    with running_fhir_server(token="t", unsupported=("MedicationAdministration",)) as server: ...

Needs `node` and `tests/fhir_server/node_modules` (`make node-deps`, which `make test` runs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
import requests

SERVER_DIR = Path(__file__).resolve().parent
START_TIMEOUT_SECONDS = 30.0


class FhirServer:
    """A running test FHIR server: its base URL and helpers to load data."""

    def __init__(self, base_url: str, process: subprocess.Popen[str], token: str | None) -> None:
        self.base_url = base_url
        self.process = process
        self.token = token
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def load(self, bundle: Mapping[str, Any]) -> dict[str, str]:
        """POST a transaction (or batch) Bundle; returns each entry's fullUrl -> "Type/id"."""
        response = self.session.post(
            self.base_url, json=bundle, timeout=60,
            headers={"Content-Type": "application/fhir+json"},
        )
        response.raise_for_status()
        answer = response.json()
        if answer.get("resourceType") != "Bundle":
            raise AssertionError(f"transaction failed: {json.dumps(answer)[:500]}")
        created: dict[str, str] = {}
        for sent, received in zip(bundle.get("entry", []), answer.get("entry", []), strict=False):
            location = (received.get("response") or {}).get("location", "")
            reference = "/".join(location.split("/")[:2]) if location else ""
            key = sent.get("fullUrl") or reference
            if reference:
                created[key] = reference
        return created

    @staticmethod
    def created_id(created: Mapping[str, str], resource_type: str) -> str:
        """The id of the first created resource of a type (e.g. the Patient of a Synthea bundle)."""
        for reference in created.values():
            if reference.startswith(f"{resource_type}/"):
                return reference.split("/", 1)[1]
        raise KeyError(resource_type)

    def put(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace one resource under its own id (PUT Type/id)."""
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        response = self.session.put(url, json=resource, timeout=30,
                                    headers={"Content-Type": "application/fhir+json"})
        response.raise_for_status()
        return response.json()


@contextmanager
def running_fhir_server(
    *, token: str | None = None, unsupported: Sequence[str] = (), delay_ms: int = 0,
    unsupported_status: int = 404,
) -> Iterator[FhirServer]:
    """Start server.js on 127.0.0.1 (port chosen by the OS), wait until ready, stop it after.

    `unsupported` types are left out of /metadata's rest.resource and answer
    `unsupported_status` (404 by default; 501 or 403 as some EHRs do).

    `delay_ms` delays every response by that many milliseconds (EHR latency, benchmarks)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the real FHIR server tests need Node 20")
    if not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail("tests/fhir_server/node_modules is missing: run `make node-deps`")
    command = [node, str(SERVER_DIR / "server.js")]
    if token:
        command += ["--token", token]
    if unsupported:
        command += ["--unsupported", ",".join(unsupported),
                    "--unsupported-status", str(int(unsupported_status))]
    if delay_ms:
        command += ["--delay-ms", str(int(delay_ms))]
    # stderr goes to a file, so a chatty server never blocks on a full pipe
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        command, cwd=SERVER_DIR, stdout=subprocess.PIPE, stderr=errors, text=True
    )
    try:
        base_url = _wait_ready(process, errors)
        yield FhirServer(base_url, process, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        errors.close()


def _wait_ready(process: subprocess.Popen[str], errors: IO[str]) -> str:
    """The base URL from the server's first stdout line, within START_TIMEOUT_SECONDS."""
    line: list[str] = []
    reader = threading.Thread(
        target=lambda: line.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if not line or not line[0].strip():
        process.kill()
        process.wait(timeout=5)
        errors.seek(0)
        error = errors.read()[-2000:]
        raise RuntimeError(f"the test FHIR server did not start: {error}")
    return str(json.loads(line[0])["base"])


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirServer]:
    """One real FHIR server for the whole test session (shared: load your own patients)."""
    with running_fhir_server() as server:
        yield server
