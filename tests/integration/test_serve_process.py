"""The real `osteocds serve` over HTTP: discovery, a hook call, feedback that survives kill -9,
chunked bodies over the limit, the production refusal, and the built wheel run outside the
checkout (knowledge and schemas load as package data)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests

import fhir_fixtures
from service.hook_requests import build_hook_request
from service.store import SqliteStore
from tests.conftest import assert_operation_outcome, assert_valid_discovery, assert_valid_response
from tests.live_service import free_port, running_service
from tests.protocol.examples import hook_request

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OSTEOCDS = Path(sys.executable).with_name("osteocds")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any OSTEOCDS_* or PYTHONPATH leaking in from the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


def test_serve_answers_over_http_and_feedback_survives_kill_9(workdir: Path) -> None:
    data_dir = workdir / "data"
    env = clean_env(OSTEOCDS_DATA_DIR=str(data_dir), OSTEOCDS_MAX_BODY_BYTES=str(64 * 1024))
    with running_service(workdir, program=[str(OSTEOCDS)], env=env,
                         args=("--dev", "--workers", "1")) as server:
        base_url = server.base_url
        discovery = requests.get(f"{base_url}/cds-services", timeout=10)
        assert discovery.status_code == 200
        assert_valid_discovery(discovery.json())
        assert requests.get(f"{base_url}/readyz", timeout=10).json()["status"] == "ready"

        call = requests.post(f"{base_url}/cds-services/osteoporosis-order-select",
                             json=hook_request("order-select"), timeout=30)
        assert call.status_code == 200, call.text
        assert_valid_response(call.json())

        feedback = {"feedback": [{"card": "3f1b7b9e-5d1a-4c47-9a57-0c8a4d0e6a11",
                                  "outcome": "overridden",
                                  "outcomeTimestamp": "2026-06-01T10:00:00Z",
                                  "overrideReason": {"reason": {"code": "patient-declined"}}}]}
        acknowledged = requests.post(f"{base_url}/cds-services/osteoporosis-order-select/feedback",
                                     json=feedback, timeout=10)
        assert acknowledged.status_code == 200
        assert acknowledged.json() == {"recorded": 1, "duplicates": 0}

        chunked = requests.post(
            f"{base_url}/cds-services/osteoporosis-order-select",
            data=(b"x" * 1024 for _ in range(100)),  # a generator: sent chunked
            headers={"Content-Type": "application/json"}, timeout=10)
        assert_operation_outcome(chunked, 413)

        html = requests.post(f"{base_url}/cds-services/osteoporosis-order-select",
                             data="hook=x", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_operation_outcome(html, 415)

        # kill -9 the whole server (master and workers), no chance to flush anything.
        os.killpg(server.process.pid, signal.SIGKILL)
        time.sleep(0.5)

    store = SqliteStore(data_dir / "osteocds.sqlite3")
    try:
        rows = list(store.iter_feedback())
    finally:
        store.close()
    assert [(r.card_uuid, r.override_reason_code) for r in rows] == [
        ("3f1b7b9e-5d1a-4c47-9a57-0c8a4d0e6a11", "patient-declined")]

    # After a restart the same fact is recognised as a repeat.
    with running_service(workdir, program=[str(OSTEOCDS)], env=env,
                         args=("--dev", "--workers", "1")) as server:
        again = requests.post(f"{server.base_url}/cds-services/osteoporosis-order-select/feedback",
                              json=feedback, timeout=10)
        assert again.json() == {"recorded": 0, "duplicates": 1}


def _answered_card_uuids(base_url: str, calls: int) -> set[str]:
    """Card uuids of `calls` patient-view calls for persona x02 (a romosozumab proposal)."""
    body = build_hook_request("patient-view", fhir_fixtures.render_persona("x02", date.today()))
    uuids: set[str] = set()
    for _ in range(calls):
        call = requests.post(f"{base_url}/cds-services/osteoporosis-patient-view",
                             json=body, timeout=30)
        assert call.status_code == 200, call.text
        uuids |= {card["uuid"] for card in call.json()["cards"]}
    assert uuids
    return uuids


def _issued_in(data_dir: Path) -> set[str]:
    store = SqliteStore(data_dir / "osteocds.sqlite3", issued_cards_flush_seconds=0)
    try:
        return {card.card_uuid for card in store.iter_issued_cards()}
    finally:
        store.close()


def test_workers_write_their_queued_issued_cards_when_the_server_stops(workdir: Path) -> None:
    """Issued-card rows wait in each worker (a 60 s period here); a graceful stop (SIGTERM)
    writes them all before the workers exit."""
    env = {"OSTEOCDS_ISSUED_CARDS_FLUSH_SECONDS": "60"}
    with running_service(workdir, env=env, args=("--dev", "--workers", "2")) as server:
        answered = _answered_card_uuids(server.base_url, 6)
        assert _issued_in(workdir / "data") == set()  # still queued in the workers
    assert server.process.returncode == 0
    assert _issued_in(workdir / "data") == answered


def test_workers_write_issued_cards_within_the_period(workdir: Path) -> None:
    env = {"OSTEOCDS_ISSUED_CARDS_FLUSH_SECONDS": "0.2"}
    with running_service(workdir, env=env, args=("--dev", "--workers", "2")) as server:
        answered = _answered_card_uuids(server.base_url, 4)
        deadline = time.monotonic() + 10
        while _issued_in(workdir / "data") != answered and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _issued_in(workdir / "data") == answered


def test_production_profile_refuses_to_start_without_jwt_settings(workdir: Path) -> None:
    result = subprocess.run(
        [str(OSTEOCDS), "serve", "--port", str(free_port())], cwd=workdir,
        env=clean_env(OSTEOCDS_DATA_DIR=str(workdir / "data")),
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "OSTEOCDS_TRUSTED_ISSUERS_FILE" in result.stderr
    assert "OSTEOCDS_PUBLIC_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_command(workdir: Path) -> None:
    env = clean_env(OSTEOCDS_DATA_DIR=str(workdir / "data"))
    first = subprocess.run([str(OSTEOCDS), "migrate"], cwd=workdir, env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert "was 0" in first.stdout
    second = subprocess.run([str(OSTEOCDS), "migrate"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert "(was 0)" not in second.stdout


_SKIPPED_EVERYWHERE = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache",
                       ".ruff_cache", ".hypothesis"}
_SKIPPED_AT_TOP = {"build", "dist", "data", "artifacts"}  # run-time dirs, not package data


def _not_sources(directory: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n in _SKIPPED_EVERYWHERE or n.endswith(".egg-info")}
    if Path(directory) == REPO:
        skipped |= _SKIPPED_AT_TOP & set(names)
    return skipped


def test_wheel_installs_and_serves_outside_the_checkout(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources, install it into a fresh venv whose only
    extra path is the project venv's dependencies, and serve from a directory outside."""
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=_not_sources)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "-w", str(wheels), str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("osteocds-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                   check=True, timeout=120)
    venv_python = venv / "bin" / "python"
    site_packages = Path(subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip())
    # Dependencies come from the project venv (appended to sys.path, after the wheel's files).
    dependencies = Path(sys.executable).parents[1] / "lib" / (
        f"python{sys.version_info.major}.{sys.version_info.minor}") / "site-packages"
    (site_packages / "osteocds-test-dependencies.pth").write_text(f"{dependencies}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python),
                    "install", "--no-deps", "--quiet", str(wheel)], check=True, timeout=300)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run(
        [str(venv_python), "-c", "import service, cards; print(service.__file__)"],
        cwd=outside, env=clean_env(), capture_output=True, text=True, check=True).stdout
    assert str(site_packages) in where, where

    env = clean_env(OSTEOCDS_DATA_DIR=str(outside / "data"))
    with running_service(outside, program=[str(venv / "bin" / "osteocds")], env=env,
                         args=("--dev", "--workers", "1")) as server:
        base_url = server.base_url
        discovery = requests.get(f"{base_url}/cds-services", timeout=10)
        assert discovery.status_code == 200
        body = discovery.json()
        assert_valid_discovery(body)
        assert len(body["services"]) == 3
        assert "38267-1" in body["services"][0]["prefetch"]["observations"]
        call = requests.post(f"{base_url}/cds-services/osteoporosis-patient-view",
                             data=json.dumps({"hook": "patient-view"}),
                             headers={"Content-Type": "application/json"}, timeout=10)
        assert_operation_outcome(call, 400)  # the request schemas are there too
