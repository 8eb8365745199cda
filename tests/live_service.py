"""A real `osteocds serve` process for tests: free loopback port, waits for /healthz, always
stopped (SIGTERM, then SIGKILL) when the block ends. Every test that needs the real server
process uses this one helper."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

START_TIMEOUT_SECONDS = 40.0


@dataclass
class LiveService:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_service(
    work_dir: Path,
    *,
    args: Sequence[str] = ("--dev",),
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    program: Sequence[str] = (sys.executable, "-m", "service.cli"),
) -> Iterator[LiveService]:
    """Run `osteocds serve --host 127.0.0.1 --port <port> *args` until the block ends.

    The environment is this process's without any `OSTEOCDS_*` variable or `PYTHONPATH`, plus a
    data directory under `work_dir`, log level WARNING, and `env`. Pass `port` (from
    `free_port()`) when a setting must name the server's own URL before it starts
    (`OSTEOCDS_PUBLIC_BASE_URL`), and `program` to run another installation's `osteocds`.
    The server runs in its own process group (`process.pid`), stopped as a whole.
    """
    port = port or free_port()
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environment.update({"OSTEOCDS_DATA_DIR": str(data_dir), "OSTEOCDS_LOG_LEVEL": "WARNING"})
    environment.update(env or {})
    log_path = work_dir / f"serve-{port}.log"
    command = [*program, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=log,
                                   cwd=work_dir, start_new_session=True)
    service = LiveService(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(service)
        yield service
    finally:
        _stop(process)


def _wait_healthy(service: LiveService) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"osteocds serve exited early:\n{service.log()[-3000:]}")
        try:
            if requests.get(f"{service.base_url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"osteocds serve not healthy in time:\n{service.log()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group (graceful), SIGKILL if it lingers; a server the test
    already killed is left alone."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
