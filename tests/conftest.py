"""Shared pytest fixtures and response checks for every test module.

- `assert_valid_response(body)`: a CDS Hooks 2.0 service response as osteocds promises it
  (JSON Schema `service-response` + unique uuids). Also a fixture of the same name.
- `assert_valid_discovery(body)`, `assert_operation_outcome(response, status)`.
- `make_app(card_producers=None, **settings)`: a development-profile app on a temporary data
  directory; its test client checks EVERY response automatically (200 service answers against
  the response schema, discovery against its schema, errors against the OperationOutcome shape).
- `app`, `client`: the default app (the real clinical card producer) and its checking client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import Settings
from service.hooks import CardProducer, duplicate_uuid_problems
from service.protocol import validation

JSON_MIMETYPE = "application/json"


def assert_valid_response(body: Any) -> None:
    """Fail unless `body` is a valid osteocds CDS Hooks 2.0 service response."""
    problems = validation.schema_errors("service-response", body)
    if not problems and isinstance(body, Mapping):
        problems = duplicate_uuid_problems(body)
    assert not problems, "invalid CDS Hooks response:\n  " + "\n  ".join(problems)


def assert_valid_discovery(body: Any) -> None:
    """Fail unless `body` is a valid discovery document."""
    problems = validation.schema_errors("discovery-response", body)
    assert not problems, "invalid discovery response:\n  " + "\n  ".join(problems)


def assert_operation_outcome(response: Any, status: int, code: str | None = None) -> dict:
    """Fail unless `response` (a Flask or requests response) is an OperationOutcome with
    `status` (and issue `code`); returns its single issue."""
    assert response.status_code == status, (response.status_code, _text(response))
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith(JSON_MIMETYPE), content_type
    body = response.json() if callable(getattr(response, "json", None)) else response.get_json()
    problems = validation.schema_errors("operation-outcome", body)
    assert not problems, problems
    issue = body["issue"][0]
    if code is not None:
        assert issue["code"] == code, issue
    return issue


def _text(response: Any) -> str:
    text = getattr(response, "text", None)
    return text if isinstance(text, str) else response.get_data(as_text=True)


class CheckingClient(FlaskClient):
    """A test client that checks every response the service gives."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        check_any_response(response)
        return response


def check_any_response(response: Any) -> None:
    """The response checks every test gets for free (run on each test-client response)."""
    request = response.request
    path, method = request.path, request.method
    if response.status_code >= 400:
        assert_operation_outcome(response, response.status_code)
        return
    if method == "OPTIONS" or not path.startswith("/cds-services"):
        return
    assert response.mimetype == JSON_MIMETYPE, response.mimetype
    body = response.get_json()
    if path.rstrip("/") == "/cds-services" and method == "GET":
        assert_valid_discovery(body)
    elif method == "POST" and not path.endswith("/feedback"):
        assert_valid_response(body)
    _assert_no_empty_values(body)


def _assert_no_empty_values(value: Any, where: str = "$") -> None:
    """CDS Hooks 2.0: no null / "" / [] / {} anywhere (the top-level `cards: []` excepted)."""
    if isinstance(value, Mapping):
        assert value or where == "$", f"empty object at {where}"
        for key, item in value.items():
            if where == "$" and key == "cards" and item == []:
                continue
            _assert_no_empty_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        assert value, f"empty array at {where}"
        for index, item in enumerate(value):
            _assert_no_empty_values(item, f"{where}[{index}]")
    else:
        assert value is not None, f"null at {where}"
        assert value != "", f"empty string at {where}"


@pytest.fixture(name="assert_valid_response")
def _assert_valid_response_fixture() -> Callable[[Any], None]:
    return assert_valid_response


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def make_app(data_dir: Path) -> Iterator[Callable[..., Flask]]:
    """Build development-profile apps on a temporary data directory; closes their stores."""
    from service.app import create_app
    from service.protocol.state import protocol_state

    apps: list[Flask] = []

    def build(card_producers: Sequence[CardProducer] | None = None, **overrides: Any) -> Flask:
        values: dict[str, Any] = {"profile": "dev", "data_dir": data_dir, "database_url": None}
        values.update(overrides)
        app = create_app(Settings(**values), card_producers=card_producers)
        app.test_client_class = CheckingClient
        app.testing = True
        apps.append(app)
        return app

    yield build
    for app in apps:
        protocol_state(app).store.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post_json(client: FlaskClient, path: str, body: Any, **kwargs: Any) -> Any:
    """POST `body` as JSON (helper for tests)."""
    return client.post(path, data=json.dumps(body), content_type=JSON_MIMETYPE, **kwargs)
