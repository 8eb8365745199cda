"""Fixtures for the security tests: real apps from create_app in both profiles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.app import create_app
from service.config import Settings
from tests.security import helpers as h


@pytest.fixture(scope="session")
def client_key() -> h.SigningKey:
    return h.SigningKey("ES384", kid="ehr-2025")


@pytest.fixture
def issuers_file(tmp_path: Path, client_key: h.SigningKey) -> Path:
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({"issuers": [
        {"iss": h.ISS, "jwks": client_key.jwks(), "fhir_servers": [h.FHIR_SERVER]},
    ]}))
    return path


def no_cards(context: Any) -> list[dict[str, Any]]:
    """Card producer for tests about the transport: authentication is what they check."""
    return []


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """create_app with settings overrides; `clinical=True` keeps the real card producers."""

    def build(*, clinical: bool = False, **overrides: Any) -> Flask:
        values: dict[str, Any] = {"data_dir": tmp_path / "data"}
        values.update(overrides)
        (tmp_path / "data").mkdir(exist_ok=True)
        producers = None if clinical else [no_cards]
        return create_app(Settings(**values), card_producers=producers)

    return build


@pytest.fixture
def prod_app(make_app: Callable[..., Flask], issuers_file: Path) -> Flask:
    return make_app(profile="production", public_base_url=h.BASE_URL + "/",
                    trusted_issuers_file=issuers_file)


@pytest.fixture
def dev_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(profile="dev", public_base_url="http://127.0.0.1:8080")
