"""Fixtures for the preview page tests: a real `osteocds serve --dev` process and Debian Chromium.

Chromium runs headless, offline and as root here, so it is launched with --no-sandbox, every
background-networking feature off and a fresh user-data directory per test module. Playwright's
own browser download is never used: `executable_path` is the system browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import fhir_fixtures
from tests.live_service import running_service

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


def chromium_or_skip() -> Path:
    """The system Chromium; skip only where it cannot be installed (not root), fail otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip("/usr/bin/chromium is absent and we are not root to install it "
                    "(Debian package `chromium`; `make test` installs it when root)")
    pytest.fail("/usr/bin/chromium is absent although we are root: run `make system-deps`")
    raise AssertionError  # unreachable; pytest.fail raises


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    data_dir: Path
    as_of: str
    log: Path


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """`osteocds serve --dev` on a free port, its own data directory and a fixed as_of."""
    work = tmp_path_factory.mktemp("preview")
    as_of = fhir_fixtures.load_expected()["reference_as_of"]
    with running_service(work, args=("--dev", "--workers", "1"),
                         env={"OSTEOCDS_DEV_AS_OF": as_of}) as service:
        yield ServedApp(service.base_url, work / "data", as_of, service.log_path)


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
