"""Authentication through the real Flask app (create_app): cases 29, 32, 35, start-up refusals,
the FHIR server allowlist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from service.errors import ConfigurationError
from service.security.issuers import SANDBOX_ISSUER
from tests.security import helpers as h

ORDER_SELECT = "/cds-services/osteoporosis-order-select"
FEEDBACK = ORDER_SELECT + "/feedback"
FEEDBACK_BODY = {"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                               "outcome": "overridden",
                               "outcomeTimestamp": "2025-01-01T00:00:00Z"}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_opaque_401(response: TestResponse, *secrets: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["diagnostics"] == "Authentication failed."
    for secret in secrets:
        assert secret not in response.get_data(as_text=True)


# --- case 29: no token, or not Bearer, on every guarded endpoint ---------------------------------

@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/cds-services", None), ("POST", ORDER_SELECT, {}),
     ("POST", ORDER_SELECT, None), ("POST", FEEDBACK, FEEDBACK_BODY),
     ("POST", "/cds-services/no-such-service", {})],
)
@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_production_refuses_calls_without_a_bearer_token(prod_app: Flask, method: str, path: str,
                                                         body: dict | None,
                                                         authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = prod_app.test_client().open(path, method=method, json=body, headers=headers)
    assert_opaque_401(response)


def test_an_unauthenticated_body_is_never_read(prod_app: Flask) -> None:
    # Not JSON, too deep, wrong type: still 401, because the token is checked first.
    client = prod_app.test_client()
    for data, content_type in [("{not json", "application/json"), ("[" * 5000, "application/json"),
                               ("hello", "text/plain")]:
        response = client.post(ORDER_SELECT, data=data, content_type=content_type)
        assert_opaque_401(response)


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
def test_health_and_docs_need_no_token(prod_app: Flask, path: str) -> None:
    assert prod_app.test_client().get(path).status_code == 200


def test_a_valid_token_opens_discovery_service_and_feedback(prod_app: Flask,
                                                            client_key: h.SigningKey) -> None:
    client = prod_app.test_client()
    discovery = client.get("/cds-services",
                           headers=bearer(client_key.token(aud=h.BASE_URL + "/cds-services")))
    assert discovery.status_code == 200
    call = client.post(ORDER_SELECT, json=h.hook_request(),
                       headers=bearer(client_key.token(aud=h.BASE_URL + ORDER_SELECT)))
    assert call.status_code == 200, call.get_json()
    feedback = client.post(FEEDBACK, json=FEEDBACK_BODY,
                           headers=bearer(client_key.token(aud=h.BASE_URL + FEEDBACK)))
    assert feedback.status_code == 200


def test_a_verified_token_exposes_its_issuer_to_the_request(prod_app: Flask,
                                                            client_key: h.SigningKey) -> None:
    from flask import g

    with prod_app.test_request_context(
        "/cds-services", headers=bearer(client_key.token(aud=h.BASE_URL + "/cds-services"))
    ):
        assert prod_app.preprocess_request() is None
        assert g.trusted_issuer.iss == h.ISS
        assert g.trusted_issuer.fhir_servers == (h.FHIR_SERVER,)


# --- case 32/34 through HTTP: audience per endpoint, Host header ignored, replay ------------------

def test_audience_of_one_endpoint_is_refused_on_another(prod_app: Flask,
                                                        client_key: h.SigningKey) -> None:
    client = prod_app.test_client()
    discovery_token = client_key.token(aud=h.BASE_URL + "/cds-services")
    response = client.post(ORDER_SELECT, json=h.hook_request(), headers=bearer(discovery_token))
    assert_opaque_401(response, discovery_token)
    service_token = client_key.token(aud=h.BASE_URL + ORDER_SELECT)
    assert_opaque_401(client.post(FEEDBACK, json=FEEDBACK_BODY, headers=bearer(service_token)))


def test_audience_comes_from_the_public_base_url_not_the_host_header(
        prod_app: Flask, client_key: h.SigningKey) -> None:
    client = prod_app.test_client()
    spoofed = client_key.token(aud="https://attacker.example/cds-services")
    response = client.get("/cds-services", headers={**bearer(spoofed),
                                                    "Host": "attacker.example",
                                                    "X-Forwarded-Host": "attacker.example"})
    assert_opaque_401(response)
    behind_proxy = client_key.token(aud=h.BASE_URL + "/cds-services")
    response = client.get("/cds-services", headers={**bearer(behind_proxy),
                                                    "Host": "10.0.0.7:8080"})
    assert response.status_code == 200


def test_a_replayed_token_is_refused_by_the_shared_store(prod_app: Flask,
                                                         client_key: h.SigningKey) -> None:
    token = client_key.token(aud=h.BASE_URL + "/cds-services")
    client = prod_app.test_client()
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert_opaque_401(client.get("/cds-services", headers=bearer(token)))


def test_replay_is_refused_across_apps_sharing_one_store(make_app: Callable[..., Flask],
                                                         issuers_file: Path,
                                                         client_key: h.SigningKey) -> None:
    # Two workers (two apps) on the same SQLite database: the second sees the first's jti.
    settings = {"profile": "production", "public_base_url": h.BASE_URL,
                "trusted_issuers_file": issuers_file}
    worker_a, worker_b = make_app(**settings), make_app(**settings)
    token = client_key.token(aud=h.BASE_URL + "/cds-services")
    assert worker_a.test_client().get("/cds-services", headers=bearer(token)).status_code == 200
    assert_opaque_401(worker_b.test_client().get("/cds-services", headers=bearer(token)))


# --- case 35: the CDS Hooks Sandbox's public key ----------------------------------------------

def test_development_needs_no_token_but_verifies_a_present_one(dev_app: Flask) -> None:
    client = dev_app.test_client()
    assert client.get("/cds-services").status_code == 200
    assert_opaque_401(client.get("/cds-services", headers=bearer("not-a-jwt")))


def sandbox_signed_token(aud: str) -> str:
    """A token as the Sandbox makes it, signed with a key published under the Sandbox kid.

    The Sandbox's private key is public, but not shipped here; a key generated under the same kid
    shows the issuer/kid routing, and the shipped public key must then refuse its signature."""
    key = h.SigningKey("ES384", kid="44823f3d-0b01-4a6c-a80e-b9d3e8a7226f")
    return key.token(aud=aud, iss=SANDBOX_ISSUER,
                     header={"jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json"})


def test_the_sandbox_issuer_is_trusted_in_development_only(dev_app: Flask,
                                                           prod_app: Flask) -> None:
    dev_policy = dev_app.extensions["osteocds.auth"]
    prod_policy = prod_app.extensions["osteocds.auth"]
    assert SANDBOX_ISSUER in dev_policy.verifier.issuers
    assert SANDBOX_ISSUER not in prod_policy.verifier.issuers
    forged = sandbox_signed_token(h.BASE_URL + "/cds-services")
    response = prod_app.test_client().get("/cds-services", headers=bearer(forged))
    assert_opaque_401(response)


def test_a_sandbox_token_is_checked_against_the_shipped_key_without_fetching_jku(
        dev_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    token = sandbox_signed_token("http://127.0.0.1:8080/cds-services")
    with caplog.at_level("WARNING"):
        response = dev_app.test_client().get("/cds-services", headers=bearer(token))
    assert_opaque_401(response)  # wrong private key: the shipped public key refuses it
    reasons = [getattr(r, "auth_reason", None) for r in caplog.records]
    assert "bad-signature" in reasons  # reached the signature check via the shipped key


def test_production_trusts_the_sandbox_only_when_configured(make_app: Callable[..., Flask],
                                                           tmp_path: Path) -> None:
    from service.security.issuers import sandbox_issuer

    path = tmp_path / "sandbox-issuers.json"
    path.write_text(__import__("json").dumps(
        {"issuers": [{"iss": SANDBOX_ISSUER, "jwks": dict(sandbox_issuer().jwks or {})}]}))
    app = make_app(profile="production", public_base_url=h.BASE_URL, trusted_issuers_file=path)
    assert SANDBOX_ISSUER in app.extensions["osteocds.auth"].verifier.issuers


# --- start-up refusals ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"public_base_url": None}, "OSTEOCDS_PUBLIC_BASE_URL"),
        ({"trusted_issuers_file": None}, "OSTEOCDS_TRUSTED_ISSUERS_FILE"),
        ({"public_base_url": "http://cds.example.org"}, "OSTEOCDS_PUBLIC_BASE_URL"),
        ({"public_base_url": "https://cds.example.org/?x=1"}, "OSTEOCDS_PUBLIC_BASE_URL"),
        ({"jwt_algorithms": ("ES384", "HS256")}, "OSTEOCDS_JWT_ALGORITHMS"),
    ],
)
def test_production_refuses_to_start_misconfigured(make_app: Callable[..., Flask],
                                                   issuers_file: Path, overrides: dict,
                                                   message: str) -> None:
    settings = {"profile": "production", "public_base_url": h.BASE_URL,
                "trusted_issuers_file": issuers_file, **overrides}
    with pytest.raises(ConfigurationError, match=message):
        make_app(**settings)


@pytest.fixture
def empty_issuers_file(tmp_path: Path) -> Path:
    path = tmp_path / "no-issuers.json"
    path.write_text(json.dumps({"issuers": []}))
    return path


def test_production_refuses_to_start_trusting_no_issuer(make_app: Callable[..., Flask],
                                                        empty_issuers_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="lists no issuer") as error:
        make_app(profile="production", public_base_url=h.BASE_URL,
                 trusted_issuers_file=empty_issuers_file)
    assert str(empty_issuers_file) in str(error.value)


@pytest.mark.integration
def test_serve_exits_2_when_the_issuers_file_lists_no_issuer(tmp_path: Path,
                                                            empty_issuers_file: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    env.update(OSTEOCDS_PROFILE="production", OSTEOCDS_PUBLIC_BASE_URL=h.BASE_URL,
               OSTEOCDS_TRUSTED_ISSUERS_FILE=str(empty_issuers_file),
               OSTEOCDS_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--port", "1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert str(empty_issuers_file) in result.stderr
    assert "lists no issuer" in result.stderr
    assert "Traceback" not in result.stderr


def test_plain_http_public_base_url_is_accepted_for_loopback(make_app: Callable[..., Flask],
                                                             issuers_file: Path) -> None:
    app = make_app(profile="production", public_base_url="http://127.0.0.1:8080",
                   trusted_issuers_file=issuers_file)
    assert app.extensions["osteocds.auth"].public_base_url == "http://127.0.0.1:8080"


# --- FHIR server allowlist ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fhir_server", "status"),
    [("http://fhir.example.org/r4", 400), ("https://fhir.attacker.example/r4", 403),
     ("https://fhir.example.org/r4-other", 403)],
)
def test_production_sends_the_fhir_token_only_to_allowed_servers(
        prod_app: Flask, client_key: h.SigningKey, fhir_server: str, status: int) -> None:
    secret = "fhir-access-token-SECRET-123"
    body = h.hook_request(fhirServer=fhir_server, fhirAuthorization={
        "access_token": secret, "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "osteocds"})
    response = prod_app.test_client().post(
        ORDER_SELECT, json=body, headers=bearer(client_key.token(aud=h.BASE_URL + ORDER_SELECT)))
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert secret not in text
    assert fhir_server not in text
    assert response.get_json()["issue"][0]["expression"] == ["fhirServer"]


@pytest.fixture
def issuer_without_fhir_servers_app(make_app: Callable[..., Flask], tmp_path: Path,
                                    client_key: h.SigningKey) -> Flask:
    path = tmp_path / "issuers-no-fhir.json"
    path.write_text(json.dumps({"issuers": [{"iss": h.ISS, "jwks": client_key.jwks()}]}))
    return make_app(profile="production", public_base_url=h.BASE_URL, trusted_issuers_file=path)


def test_an_issuer_without_fhir_servers_may_send_no_fhir_server(
        issuer_without_fhir_servers_app: Flask, client_key: h.SigningKey) -> None:
    client = issuer_without_fhir_servers_app.test_client()
    secret = "fhir-access-token-SECRET-456"
    body = h.hook_request(fhirServer=h.FHIR_SERVER, fhirAuthorization={
        "access_token": secret, "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "osteocds"})
    refused = client.post(ORDER_SELECT, json=body,
                          headers=bearer(client_key.token(aud=h.BASE_URL + ORDER_SELECT)))
    assert refused.status_code == 403  # what a server outside the issuer's list gets
    assert refused.get_json()["issue"][0]["expression"] == ["fhirServer"]
    assert secret not in refused.get_data(as_text=True)
    prefetch_only = client.post(ORDER_SELECT, json=h.hook_request(),
                                headers=bearer(client_key.token(aud=h.BASE_URL + ORDER_SELECT)))
    assert prefetch_only.status_code == 200


# --- jku forms refused before any fetch; non-finite time claims -----------------------------------

@pytest.mark.parametrize(
    "jku",
    [
        "http://127.0.0.1:{port}/keys/jwks?r=1",
        "http://127.0.0.1:{port}/keys/jwks#f",
        "http://127.0.0.1:{port}/keys/%2e%2e/evil/jwks",
        "http://127.0.0.1:{port}/keys/%6Awks",
        "http://u:p@127.0.0.1:{port}/keys/jwks",  # userinfo (refused before this change too)
    ],
)
def test_a_jku_in_a_refused_form_is_401_without_any_fetch(make_app: Callable[..., Flask],
                                                         tmp_path: Path, jku: str) -> None:
    signer = h.SigningKey("ES384")
    with h.JwksServer() as server:
        for path in ("/keys/jwks", "/evil/jwks"):
            server.documents[path] = signer.jwks()  # what a fetch would find
        issuers = tmp_path / "jku-issuers.json"
        issuers.write_text(json.dumps({"issuers": [
            {"iss": h.ISS, "jku_allowlist": [server.url("/keys/")]}]}))
        app = make_app(profile="production", public_base_url=h.BASE_URL,
                       trusted_issuers_file=issuers)
        token = signer.token(aud=h.BASE_URL + "/cds-services",
                             header={"jku": jku.format(port=server.port)})
        assert_opaque_401(app.test_client().get("/cds-services", headers=bearer(token)))
        assert server.total_hits == 0


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": float("nan"), "exp": 2_000_000_000},  # was 200: no lifetime bound at all
        {"exp": float("nan")},  # was a 500
        {"nbf": float("-inf")},  # was 200
    ],
)
def test_non_finite_time_claims_are_401(prod_app: Flask, client_key: h.SigningKey,
                                        claims: dict[str, Any]) -> None:
    token = client_key.token(claims, aud=h.BASE_URL + "/cds-services")
    assert_opaque_401(prod_app.test_client().get("/cds-services", headers=bearer(token)))
