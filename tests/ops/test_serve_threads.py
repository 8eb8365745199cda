"""`osteocds serve --threads` and OSTEOCDS_THREADS are one setting: gunicorn's threads per worker
and the size each worker's FHIR connection pool is built for (service.record.fhir_client)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from service.commands import serve
from service.protocol.state import protocol_state
from service.record.fhir_client import pool_size


def _run_serve(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, Any]:
    """Run `serve`'s `run` up to gunicorn and return what it was given (nothing is served)."""
    seen: dict[str, Any] = {}

    class FakeGunicorn:
        def __init__(self, app: Any, options: dict[str, Any]) -> None:
            seen["options"], seen["settings"] = options, protocol_state(app).settings

        def run(self) -> None:
            return None

    monkeypatch.setattr(serve, "GunicornApplication", FakeGunicorn)
    monkeypatch.setattr(serve, "tune_garbage_collector", lambda: None)
    monkeypatch.setattr(serve, "_configure_logging", lambda settings: None)
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    assert serve.run(parser.parse_args(["serve", "--dev", *argv])) == 0
    return seen


def test_the_threads_flag_sizes_gunicorn_and_the_fhir_pool(monkeypatch, tmp_path):
    monkeypatch.setenv("OSTEOCDS_DATA_DIR", str(tmp_path))
    seen = _run_serve(monkeypatch, ["--threads", "3"])
    assert seen["options"]["threads"] == 3
    assert seen["settings"].threads == 3
    assert pool_size(seen["settings"].threads) == 18


def test_without_the_flag_the_environment_decides(monkeypatch, tmp_path):
    monkeypatch.setenv("OSTEOCDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OSTEOCDS_THREADS", "5")
    seen = _run_serve(monkeypatch, [])
    assert seen["options"]["threads"] == 5
    assert seen["settings"].threads == 5


def test_a_misspelled_setting_is_named_in_a_warning_never_its_value(monkeypatch, tmp_path,
                                                                    caplog):
    """OSTEOCDS_DATABASE_ULR would leave production on SQLite without a word (ops audit)."""
    monkeypatch.setenv("OSTEOCDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OSTEOCDS_DATABASE_ULR", "postgresql://u:SECRET-PW@db/osteocds")
    monkeypatch.setenv("OSTEOCDS_COMPILE", "1")  # the build's, not a setting: no warning
    with caplog.at_level("WARNING", logger="osteocds.serve"):
        _run_serve(monkeypatch, [])
    warnings = [r.getMessage() for r in caplog.records if r.name == "osteocds.serve"
                and r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("OSTEOCDS_DATABASE_ULR is not an osteocds setting")
    assert "SECRET-PW" not in caplog.text


def test_every_documented_setting_is_known():
    from service.config import unknown_setting_names

    documented = {"OSTEOCDS_DATABASE_URL": "", "OSTEOCDS_THREADS": "", "osteocds_log_level": "",
                  "OSTEOCDS_FHIR_CA_BUNDLE": "", "OSTEOCDS_TEST_DATABASE_URL": ""}
    assert unknown_setting_names(documented) == []
    assert unknown_setting_names({"OSTEOCDS_PROFIL": "dev", "OTHER": "x"}) == ["OSTEOCDS_PROFIL"]
