"""CPU time of one hook call in process, the service against the baseline app, alternating:
the time a call takes on this machine, where `benchmarks/instructions.py` counts instructions
(the two differ: the service's longer code path misses the caches more often; docs/performance.md,
rounds 9 and 11).

    .venv/bin/python benchmarks/in_process.py [--scenario order-select-50] [--calls 1000]
        [--turns 4]

Both apps answer the scenario's body through the Flask test client (the service in the
development profile, this checkout's build, access lines at INFO to /dev/null as in
`instructions.py`). After the warm-up calls and the serve command's garbage collector settings,
each turn times `--calls` calls of the baseline, then of the service (the order swapped every
turn), by `time.thread_time()` of the calling thread. Prints each turn and the median ratio.
Also a program to profile: `py-spy record -- .venv/bin/python benchmarks/in_process.py ...`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.instructions import (  # noqa: E402
    WARM_UP_CALLS,
    access_lines_to_devnull,
    hook_caller,
)


def microseconds_a_call(call: Callable[[], None], calls: int) -> float:
    """CPU time of the calling thread per call, in microseconds."""
    started = time.thread_time()
    for _ in range(calls):
        call()
    return (time.thread_time() - started) / calls * 1e6


def turn_order(turn: int) -> tuple[str, str]:
    """Which app goes first in a turn: the baseline in odd turns, the service in even ones."""
    return ("baseline", "service") if turn % 2 else ("service", "baseline")


def measure(scenario: str, calls: int, turns: int) -> list[dict[str, float]]:
    """`turns` turns of `calls` calls of each app: one dict of microseconds a call per turn."""
    from service.commands.serve import tune_garbage_collector

    workdir = Path(tempfile.mkdtemp(prefix="osteocds-in-process-"))
    closers: list[Callable[[], None]] = []
    try:
        with access_lines_to_devnull():
            callers = {}
            for name in ("baseline", "service"):
                (workdir / name).mkdir()
                callers[name], close = hook_caller(scenario, workdir / name,
                                                   baseline=name == "baseline")
                closers.append(close)
            for call in callers.values():
                for _ in range(WARM_UP_CALLS):
                    call()
            tune_garbage_collector()
            return [{name: microseconds_a_call(callers[name], calls)
                     for name in turn_order(turn)} for turn in range(1, turns + 1)]
    finally:
        for close in closers:  # the issued-card rows written while the database still exists
            close()
        shutil.rmtree(workdir, ignore_errors=True)


def report(scenario: str, results: list[dict[str, float]]) -> str:
    """The turns, then the median ratio and its range."""
    lines = [f"{scenario}, CPU of the calling thread a call (test client, in process):"]
    ratios = []
    for turn, result in enumerate(results, start=1):
        ratio = result["service"] / result["baseline"]
        ratios.append(ratio)
        lines.append(f"  turn {turn}: baseline {result['baseline']:.0f} us, service "
                     f"{result['service']:.0f} us, {ratio:.2f} x")
    lines.append(f"service / baseline: median {statistics.median(ratios):.2f} x "
                 f"(turns {min(ratios):.2f}-{max(ratios):.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="order-select-50",
                        choices=["patient-view-50", "order-select-50", "patient-view-500"])
    parser.add_argument("--calls", type=int, default=1000, help="calls a turn for each app")
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.turns < 1:
        parser.error("--calls and --turns must be at least 1")
    print(report(args.scenario, measure(args.scenario, args.calls, args.turns)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
