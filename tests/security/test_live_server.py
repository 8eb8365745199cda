"""A real `osteocds serve` (development profile, DEBUG logs) on a free loopback port:

- schemathesis against its `GET /openapi.json` finds no 5xx and no response-schema violation;
- driven through failure paths (FHIR 401 and 500, validation errors that could echo input, bad
  tokens), nothing it wrote contains a bearer token, a FHIR access token, a patient name or a
  birth date.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live_service import LiveService, free_port, running_service
from tests.security import helpers as h

pytestmark = pytest.mark.integration

PATIENT_NAME = "Quillfeather"
GIVEN_NAME = "Ottoline"
BIRTH_DATE = "1948-03-02"
FHIR_TOKEN = "fhir-access-token-5ecr3t-ZZtop"
ORDER_SELECT = "/cds-services/osteoporosis-order-select"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    port = free_port()
    env = {"OSTEOCDS_LOG_LEVEL": "DEBUG", "OSTEOCDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "OSTEOCDS_FHIR_DEADLINE_SECONDS": "2"}
    with running_service(tmp_path_factory.mktemp("live"), env=env, port=port,
                         args=("--dev", "--workers", "1")) as service:
        yield service


class FailingFhirServer:
    """A tiny FHIR stand-in: /unauthorized/* answers 401, /broken/* answers 500."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                status = 401 if self.path.startswith("/unauthorized") else 500
                body = json.dumps({"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "security",
                     "diagnostics": f"token {FHIR_TOKEN} rejected for {PATIENT_NAME}"}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> FailingFhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def test_logs_hold_no_tokens_and_no_patient_data(live_server: LiveService) -> None:
    key = h.SigningKey("ES384")
    client_jwt = key.token(aud=live_server.base_url + "/cds-services")
    url = live_server.base_url
    with FailingFhirServer() as fhir:
        answers = []
        for path in ("/unauthorized/fhir", "/broken/fhir"):
            body = h.hook_request()
            del body["prefetch"]["conditions"]  # the service must query the FHIR server
            body["fhirServer"] = fhir.url + path
            body["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Bearer",
                                         "expires_in": 300, "scope": "patient/*.read",
                                         "subject": "osteocds"}
            answers.append(requests.post(url + ORDER_SELECT, json=body, timeout=15))
        assert fhir.requests, "the service never called the FHIR server"
        assert all(a.status_code == 412 for a in answers), [a.status_code for a in answers]

    echo_bait = h.hook_request()
    echo_bait["context"]["patientId"] = f"{GIVEN_NAME} {PATIENT_NAME} {BIRTH_DATE}"
    echo_bait["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Basic"}
    answers = [
        requests.post(url + ORDER_SELECT, json=echo_bait, timeout=15),
        requests.post(url + ORDER_SELECT, json={"hook": PATIENT_NAME}, timeout=15),
        requests.post(url + ORDER_SELECT, data=f'{{"name": "{PATIENT_NAME}", {BIRTH_DATE}',
                      headers={"Content-Type": "application/json"}, timeout=15),
        requests.get(url + "/cds-services", timeout=15,
                     headers={"Authorization": f"Bearer {client_jwt}"}),  # untrusted issuer
        requests.get(url + "/cds-services", timeout=15,
                     headers={"Authorization": f"Bearer {FHIR_TOKEN}"}),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 401, 401]

    time.sleep(0.5)  # let the worker flush its log lines
    written = live_server.log()
    assert '"request_id"' in written  # structured JSON lines were written
    assert "Logging error" not in written  # every line, gunicorn's own too, could be formatted
    assert "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea" in written  # the hookInstance is logged
    for secret in (FHIR_TOKEN, client_jwt, client_jwt.split(".")[2], PATIENT_NAME, GIVEN_NAME,
                   BIRTH_DATE):
        assert secret not in written
    # Error bodies must not echo request values either (they reach EHR logs and screens).
    echoes = [(answer.status_code, secret) for answer in answers
              for secret in (FHIR_TOKEN, client_jwt, PATIENT_NAME, BIRTH_DATE)
              if secret in answer.text]
    assert echoes == []


def test_schemathesis_finds_no_server_errors_or_schema_violations(live_server: LiveService) -> None:
    st = Path(sys.executable).parent / "schemathesis"
    started = time.monotonic()
    result = subprocess.run(
        [str(st), "run", live_server.base_url + "/openapi.json", "--url", live_server.base_url,
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
                     "content_type_conformance",
         "--max-examples", "10", "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=170, check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert time.monotonic() - started < 170
