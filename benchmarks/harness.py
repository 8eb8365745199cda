"""Processes and load generation for the benchmark: gunicorn servers on loopback, wrk runs,
server CPU read from /proc, results as plain dataclasses."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants that are alive now."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(_children(current))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of the given processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def resident_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * PAGE_SIZE / 1e6


@dataclass
class Server:
    """A server process under test, started on a free loopback port."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ready_seconds: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health_path: str = "/healthz", timeout: float = 30.0) -> None:
        started = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                if requests.get(self.base_url + health_path, timeout=1).ok:
                    self.ready_seconds = time.monotonic() - started
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready in {timeout} s")

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.process

    def pids(self) -> list[int]:
        return process_tree(self._started().pid)

    def worker_pids(self) -> list[int]:
        master = self._started().pid
        return [pid for pid in self.pids() if pid != master]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass(frozen=True)
class LoadResult:
    server: str
    scenario: str
    concurrency: int
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    round: int = 1  # which of a run's alternating turns (`run.py --rounds`)
    think_ms: float = 0.0  # each connection's wait after an answer (0: as fast as it can)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(text: str) -> tuple[int, int, float, float, float]:
    """(requests, errors, req/s, p50 ms, p99 ms) from wrk --latency output."""
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = 0
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors += int(non_2xx.group(1))
    if socket_errors := re.search(r"Socket errors: (.*)", text):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    return total, errors, rate, _latency_ms(text, "50"), _latency_ms(text, "99")


def run_wrk(
    server: Server,
    *,
    scenario: str,
    path: str,
    body_file: Path,
    concurrency: int,
    seconds: float,
    tokens_file: Path | None = None,
    round_number: int = 1,
    think_ms: float = 0.0,
) -> LoadResult:
    """Drive `server` with wrk at `concurrency` connections; CPU measured over its process tree.

    `think_ms` > 0: each connection waits that long after every answer (a paced load; the
    latencies wrk reports do not include the wait)."""
    threads = min(concurrency, 2)
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_TOKENS": str(tokens_file or ""),
           "BENCH_THINK_MS": f"{think_ms:g}"}
    argv = [
        "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "10s",
        "-s", str(HERE / "post.lua"), server.base_url + path,
    ]
    pids = server.pids()
    cpu_before = cpu_seconds(pids)
    output = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    cpu_used = cpu_seconds(pids) - cpu_before
    total, errors, rate, p50, p99 = parse_wrk(output)
    return LoadResult(
        server=server.name,
        scenario=scenario,
        concurrency=concurrency,
        requests=total,
        errors=errors,
        requests_per_second=rate,
        p50_ms=p50,
        p99_ms=p99,
        cpu_ms_per_request=1000 * cpu_used / max(total, 1),
        round=round_number,
        think_ms=think_ms,
    )
