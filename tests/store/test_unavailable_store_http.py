"""What the EHR sees when the store is unavailable: the JWT replay write of a hook call (before
the handler) and feedback answer 503 with an OperationOutcome of type `transient` and
`Retry-After`, not 500; /readyz is 503 and says why; /healthz stays 200. The cause is logged
once, without the database URL."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from service.app import create_app
from service.config import Settings
from service.protocol.state import protocol_state
from tests.conftest import CheckingClient, assert_operation_outcome
from tests.security import helpers as h
from tests.store.tcp_proxy import TcpProxy
from tests.store.test_store_outages import POSTGRES_URL, fresh_postgres_database

ORDER_SELECT = "/cds-services/osteoporosis-order-select"
FEEDBACK = ORDER_SELECT + "/feedback"
FEEDBACK_BODY = {"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                               "outcome": "accepted",
                               "outcomeTimestamp": "2026-01-01T00:00:00Z"}]}


def no_cards(context: Any) -> list[dict[str, Any]]:
    return []


@pytest.fixture
def signing_key() -> h.SigningKey:
    return h.SigningKey("ES384", kid="ehr-outage")


def production_app(tmp_path: Path, key: h.SigningKey, database_url: str | None) -> Flask:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": [
        {"iss": h.ISS, "jwks": key.jwks(), "fhir_servers": [h.FHIR_SERVER]}]}))
    app = create_app(Settings(profile="production", public_base_url=h.BASE_URL + "/",
                              trusted_issuers_file=issuers, data_dir=tmp_path / "data",
                              database_url=database_url), card_producers=[no_cards])
    app.test_client_class = CheckingClient
    app.testing = True
    return app


def call(app: Flask, key: h.SigningKey, path: str, body: Any) -> Any:
    token = key.token(aud=h.BASE_URL + path)
    return app.test_client().post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def assert_503_transient(response: Any) -> None:
    issue = assert_operation_outcome(response, 503, "transient")
    assert "unavailable" in issue["diagnostics"]
    assert response.headers["Retry-After"] == "5"


def test_a_missing_replay_table_is_503_transient_not_500(
        tmp_path: Path, signing_key: h.SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    """The database recreated empty under a running service (here: the replay table dropped)."""
    app = production_app(tmp_path, signing_key, None)
    try:
        assert call(app, signing_key, ORDER_SELECT, h.hook_request()).status_code == 200
        with sqlite3.connect(tmp_path / "data" / "osteocds.sqlite3") as database:
            database.execute("DROP TABLE jwt_replay")
        with caplog.at_level(logging.INFO):
            for _ in range(3):
                assert_503_transient(call(app, signing_key, ORDER_SELECT, h.hook_request()))
            assert_503_transient(call(app, signing_key, FEEDBACK, FEEDBACK_BODY))
            client = app.test_client()
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
        issue = assert_operation_outcome(ready, 503, "transient")
        assert "osteocds migrate" in issue["diagnostics"]
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert "OSTEOCDS_DATA_DIR" in errors[0]
        assert "Traceback" not in caplog.text
    finally:
        protocol_state(app).store.close()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The name of a new, empty PostgreSQL database (dropped afterwards)."""
    with fresh_postgres_database("osteocds_http") as (_, name):
        yield name


@pytest.mark.postgres
def test_hook_calls_are_503_when_postgres_refuses_and_the_log_keeps_the_url_out(
        tmp_path: Path, signing_key: h.SigningKey, fresh_database: str,
        caplog: pytest.LogCaptureFixture) -> None:
    from psycopg.conninfo import conninfo_to_dict

    parameters = conninfo_to_dict(POSTGRES_URL or "")
    proxy = TcpProxy(parameters.get("host") or "127.0.0.1", int(parameters.get("port") or 5432))
    user = quote(parameters.get("user") or "postgres", safe="")
    password = parameters.get("password")
    secret = f":{quote(password, safe='')}" if password else ""
    app = production_app(tmp_path, signing_key,
                         f"postgresql://{user}{secret}@127.0.0.1:{proxy.port}/{fresh_database}")
    try:
        assert call(app, signing_key, ORDER_SELECT, h.hook_request()).status_code == 200
        proxy.close()  # the server goes away: open connections drop, new ones are refused
        with caplog.at_level(logging.INFO):
            for _ in range(3):
                assert_503_transient(call(app, signing_key, ORDER_SELECT, h.hook_request()))
            client = app.test_client()
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
        issue = assert_operation_outcome(ready, 503, "transient")
        assert issue["diagnostics"] == (
            "The feedback store is unavailable (connection refused).")
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == ["OSTEOCDS_DATABASE_URL: the feedback store is unavailable "
                          "(connection refused); hook and feedback calls answer 503 until it "
                          "is back"]
        for part in (str(proxy.port), fresh_database):
            assert part not in caplog.text
    finally:
        protocol_state(app).store.close()


def test_issued_cards_written_in_the_call_skip_a_lost_store_without_a_traceback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """OSTEOCDS_ISSUED_CARDS_FLUSH_SECONDS=0 writes the issued-card rows in the hook call: with
    the store gone the cards are still answered, and the store's one line is the only error
    (a traceback per call before)."""
    import fhir_fixtures
    from service.hook_requests import build_hook_request
    from tests.personas.persona_cases import AS_OF

    app = create_app(Settings(profile="dev", data_dir=tmp_path / "data", dev_as_of=AS_OF,
                              issued_cards_flush_seconds=0))
    app.test_client_class = CheckingClient
    body = build_hook_request("patient-view", fhir_fixtures.render_persona("p01", AS_OF))
    path = "/cds-services/osteoporosis-patient-view"
    try:
        assert app.test_client().post(path, json=body).get_json()["cards"]
        with sqlite3.connect(tmp_path / "data" / "osteocds.sqlite3") as database:
            database.execute("DROP TABLE issued_cards")
        with caplog.at_level(logging.INFO):
            for _ in range(3):
                response = app.test_client().post(path, json=body)
                assert response.status_code == 200
                assert response.get_json()["cards"]
        assert "Traceback" not in caplog.text
        assert "could not record issued cards" not in caplog.text
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) <= 1, [r.getMessage() for r in errors]
    finally:
        protocol_state(app).store.close()
