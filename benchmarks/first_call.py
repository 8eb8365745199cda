"""Cold start: how long `osteocds serve` takes to answer `/healthz`, and its first hook calls.

Starts the service (development profile, 1 worker x 1 thread, a fresh store) `--starts` times;
each time it waits for `/healthz`, then times `--calls` patient-view calls (persona x02, ~50
resources) one after the other. The first call pays whatever a worker does lazily; the next ones
are the steady state.

    python benchmarks/first_call.py [--starts 3] [--calls 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bodies
from benchmarks.run import SERVICE_PATH, osteocds_server

SCENARIO = "patient-view-50"


def cold_start(body: bytes, workdir: Path, calls: int) -> tuple[float, list[float]]:
    """(seconds until /healthz answered, milliseconds of each hook call) for one fresh start."""
    server = osteocds_server(1, 1, extra_env={"OSTEOCDS_DATA_DIR": str(workdir)})
    server.start()
    try:
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            response = requests.post(server.base_url + SERVICE_PATH["patient-view"], data=body,
                                     headers={"Content-Type": "application/json"}, timeout=30)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        return server.ready_seconds, timings
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="osteocds-first-call-") as tmp:
        workdir = Path(tmp)
        scenario = next(s for s in bodies.write_bodies(workdir) if s.name == SCENARIO)
        body = scenario.body_file.read_bytes()
        for start in range(args.starts):
            ready, timings = cold_start(body, workdir / f"store-{start}", args.calls)
            calls = ", ".join(f"{ms:.1f}" for ms in timings)
            print(f"start {start + 1}: ready {ready:.2f} s; hook calls {calls} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
