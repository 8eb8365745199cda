"""Profiles, start-up refusal, health probes."""

from __future__ import annotations

import datetime as dt

import pytest

from service.app import check_settings
from service.config import Profile, Settings
from service.errors import ConfigurationError
from service.protocol.state import protocol_state


def test_production_refuses_to_start_without_jwt_configuration(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="OSTEOCDS_TRUSTED_ISSUERS_FILE") as error:
        check_settings(Settings(profile=Profile.PRODUCTION, data_dir=tmp_path,
                                trusted_issuers_file=None, public_base_url=None))
    assert "OSTEOCDS_PUBLIC_BASE_URL" in str(error.value)
    with pytest.raises(ConfigurationError, match="OSTEOCDS_PUBLIC_BASE_URL"):
        check_settings(Settings(profile=Profile.PRODUCTION, data_dir=tmp_path,
                                trusted_issuers_file=tmp_path / "issuers.json",
                                public_base_url=None))


def test_clock_override_only_in_development(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="OSTEOCDS_DEV_AS_OF"):
        check_settings(Settings(profile=Profile.PRODUCTION, dev_as_of=dt.date(2026, 1, 1),
                                trusted_issuers_file=tmp_path, public_base_url="https://x"))
    check_settings(Settings(profile=Profile.DEVELOPMENT, dev_as_of=dt.date(2026, 1, 1)))


def test_healthz_and_readyz(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ready"
    assert ready.get_json()["knowledgeVersion"]


def test_readyz_is_503_when_the_store_is_unreachable(app, client, monkeypatch) -> None:
    store = protocol_state(app).store

    def down() -> None:
        raise OSError("database is gone")

    monkeypatch.setattr(store, "ping", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["issue"][0]["code"] == "transient"
    assert client.get("/healthz").status_code == 200
