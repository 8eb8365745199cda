"""Fixtures for the preview page tests: a real `osteocds serve --dev` process and Debian Chromium.

Chromium runs headless, offline and as root here, so it is launched with --no-sandbox, every
background-networking feature off and a fresh user-data directory per test module. Playwright's
own browser download is never used: `executable_path` is the system browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

import fhir_fixtures

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts" / "preview"
START_TIMEOUT_SECONDS = 60


def chromium_or_skip() -> Path:
    """The system Chromium; skip only where it cannot be installed (not root), fail otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip("/usr/bin/chromium is absent and we are not root to install it "
                    "(Debian package `chromium`; `make test` installs it when root)")
    pytest.fail("/usr/bin/chromium is absent although we are root: run `make system-deps`")
    raise AssertionError  # unreachable; pytest.fail raises


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    data_dir: Path
    as_of: str
    log: Path


def _osteocds_command() -> list[str]:
    script = Path(sys.executable).with_name("osteocds")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "service.cli"]


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"osteocds serve exited {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"osteocds serve not ready in {START_TIMEOUT_SECONDS}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """`osteocds serve --dev` on a free port, its own data directory and a fixed as_of."""
    data_dir = tmp_path_factory.mktemp("preview-data")
    log = data_dir / "serve.log"
    port = free_port()
    as_of = fhir_fixtures.load_expected()["reference_as_of"]
    env = {
        **os.environ,
        "OSTEOCDS_DATA_DIR": str(data_dir),
        "OSTEOCDS_DEV_AS_OF": as_of,
        "OSTEOCDS_LOG_LEVEL": "WARNING",
    }
    env.pop("OSTEOCDS_DATABASE_URL", None)
    command = [*_osteocds_command(), "serve", "--dev", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=data_dir)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log)
        yield ServedApp(base_url, data_dir, as_of, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Playwright persistent context in Debian Chromium with a fresh user-data directory."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data),
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(user_data, ignore_errors=True)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
