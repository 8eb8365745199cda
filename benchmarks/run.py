"""`make bench`: the service against a bare Flask baseline, in the same run, on loopback.

Both run under gunicorn with the same worker settings; wrk drives them alternately at each
concurrency, `--rounds` times (the order swapped every round); the report gives, per server, the
medians over the rounds of req/s, p50, p99 and server CPU ms per request, the ratios service /
baseline (each round against the baseline of the same round, then the median), and ends with
issue 8's targets judged from those medians (`benchmarks/targets.py`). Figures from one machine
are only comparable within one run.

A paced load follows (not a target): the same two servers, 8 connections each waiting
`--paced-think-ms` after every answer, so both see about the same request rate well below
their capacity, as an EHR's calls arrive; it reports the latencies at that rate.

    python benchmarks/run.py [--seconds 5] [--rounds 4] [--concurrency 1 8 32] [--workers 2]
                             [--threads 4] [--paced-think-ms 40] [--skip-jwt] [--skip-fhir]
                             [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bodies, jwt_load
from benchmarks.harness import LoadResult, Server, free_port, resident_mb, run_wrk
from benchmarks.targets import (
    TARGET_CONCURRENCY,
    check_targets,
    format_checks,
    median,
    round_ratios,
    spread,
)
from service.compiled import build_description

SERVICE_PATH = {
    "patient-view": "/cds-services/osteoporosis-patient-view",
    "order-select": "/cds-services/osteoporosis-order-select",
}


def gunicorn_baseline(workers: int, threads: int) -> Server:
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
        "--chdir", str(Path(__file__).resolve().parent), "--log-level", "warning",
        "baseline_app:app",
    ]
    return Server("baseline", argv, {}, port)


def osteocds_server(workers: int, threads: int, extra_env: dict[str, str] | None = None,
                    dev: bool = True) -> Server:
    port = free_port()
    argv = [
        sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--threads", str(threads),
    ]
    if dev:
        argv.append("--dev")
    return Server("osteocds", argv, extra_env or {}, port)


def _grouped(results: list[LoadResult]) -> dict[tuple[str, int, str], list[LoadResult]]:
    groups: dict[tuple[str, int, str], list[LoadResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.concurrency, result.server), []).append(result)
    return groups


def print_table(results: list[LoadResult]) -> None:
    """Per scenario, concurrency and server: medians over the rounds, and the rounds' range of
    req/s."""
    header = f"{'scenario':<28}{'c':>4}  {'server':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'cpu ms/req':>12}{'errors':>8}  req/s over the rounds")
    for (scenario, concurrency, server), rounds in _grouped(results).items():
        rates = [r.requests_per_second for r in rounds]
        print(
            f"{scenario:<28}{concurrency:>4}  {server:<10}{median(rates):>9.0f}"
            f"{median(r.p50_ms for r in rounds):>9.2f}{median(r.p99_ms for r in rounds):>9.2f}"
            f"{median(r.cpu_ms_per_request for r in rounds):>12.2f}"
            f"{sum(r.errors for r in rounds):>8}  {min(rates):.0f}-{max(rates):.0f}"
        )


SATURATED_RATIOS = {"throughput": "requests_per_second", "p99": "p99_ms",
                    "cpu": "cpu_ms_per_request"}
PACED_RATIOS = {"p50": "p50_ms", "p99": "p99_ms"}


def print_ratios(results: list[LoadResult], columns: dict[str, str],
                 spread_of: str) -> list[dict[str, object]]:
    """Service / baseline of each of `columns` (name: LoadResult field) for each (scenario,
    concurrency) pair of this run: each round against the baseline of the same round, then the
    median; the rounds' range of `spread_of` (one of the names) closes each line."""
    as_dicts = [asdict(r) for r in results]
    pairs = sorted({(r.scenario, r.concurrency) for r in results if r.server == "osteocds"})
    widths = {name: max(8, len(name) + 3) for name in columns}
    ratios = []
    print(f"\n{'scenario':<28}{'c':>4}  " + "".join(f"{name + ' x':>{widths[name]}}"
                                                    for name in columns)
          + f"  {spread_of} x over the rounds")
    for scenario, concurrency in pairs:
        per_round = {name: round_ratios(as_dicts, scenario, concurrency, field)
                     for name, field in columns.items()}
        if not per_round[spread_of]:
            continue
        ratio: dict[str, object] = {"scenario": scenario, "concurrency": concurrency}
        ratio.update({name: median(values) for name, values in per_round.items()})
        ratio[f"{spread_of}_rounds"] = per_round[spread_of]
        ratios.append(ratio)
        print(f"{scenario:<28}{concurrency:>4}  "
              + "".join(f"{ratio[name]:>{widths[name]}.2f}" for name in columns)
              + f"  {spread(per_round[spread_of])}")
    return ratios


def _alternating(args: argparse.Namespace, servers: tuple[Server, Server],
                 scenario: bodies.Scenario, concurrency: int,
                 think_ms: float = 0.0) -> list[LoadResult]:
    """`args.rounds` turns of each server on one line, the order swapped every round so a
    drift of the machine favours neither."""
    results = []
    for number in range(1, args.rounds + 1):
        order = servers if number % 2 else servers[::-1]
        for server in order:
            results.append(run_wrk(
                server, scenario=scenario.name, path=SERVICE_PATH[scenario.hook],
                body_file=scenario.body_file, concurrency=concurrency, seconds=args.seconds,
                round_number=number, think_ms=think_ms,
            ))
    return results


def prefetch_path(
    args: argparse.Namespace, workdir: Path
) -> tuple[list[LoadResult], list[LoadResult], dict]:
    """The prefetch lines, then the paced lines (none when `--paced-think-ms 0`), and the
    servers' start-up and memory."""
    scenarios = bodies.write_bodies(workdir)
    baseline = gunicorn_baseline(args.workers, args.threads)
    # a fresh feedback store per run: the issued-card rows a run writes (~100,000) neither land
    # in the developer's data/ nor slow the next run's inserts
    service = osteocds_server(args.workers, args.threads,
                              extra_env={"OSTEOCDS_DATA_DIR": str(workdir / "prefetch-data")})
    results: list[LoadResult] = []
    paced: list[LoadResult] = []
    try:
        baseline.start()
        service.start()
        startup = {
            "service_ready_seconds": round(service.ready_seconds, 2),
            "baseline_ready_seconds": round(baseline.ready_seconds, 2),
        }
        for scenario in scenarios:
            for concurrency in scenario.concurrencies(args.concurrency):
                results += _alternating(args, (baseline, service), scenario, concurrency)
        if args.paced_think_ms > 0:
            for scenario in scenarios:
                if not scenario.heavy:
                    paced += _alternating(args, (baseline, service), scenario,
                                          TARGET_CONCURRENCY, think_ms=args.paced_think_ms)
        startup["service_worker_rss_mb"] = [round(resident_mb(p), 1) for p in service.worker_pids()]
        startup["baseline_worker_rss_mb"] = [
            round(resident_mb(p), 1) for p in baseline.worker_pids()
        ]
    finally:
        baseline.stop()
        service.stop()
    return results, paced, startup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="one wrk run (5)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating turns of each server per prefetch line (4)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--skip-jwt", action="store_true")
    parser.add_argument("--skip-fhir", action="store_true")
    parser.add_argument("--skip-prefetch", action="store_true",
                        help="skip the prefetch-path comparison (JWT and FHIR parts only)")
    parser.add_argument("--fhir-delay-ms", type=int, default=50,
                        help="latency added to every FHIR server response (50)")
    parser.add_argument("--paced-think-ms", type=float, default=40.0,
                        help="the paced load's wait after each answer (40; 0 skips it)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.paced_think_ms < 0:
        parser.error("--paced-think-ms must be 0 (skip) or more")

    build = build_description()
    print(f"service build: {build} (make compile / make interpreted)")
    report: dict[str, object] = {"settings": {k: str(v) for k, v in vars(args).items()},
                                 "build": build}
    with tempfile.TemporaryDirectory(prefix="osteocds-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_prefetch:
            print("== Prefetch path: service vs bare Flask baseline (same run) ==")
            results, paced, startup = prefetch_path(args, workdir)
            print_table(results)
            report["prefetch"] = [asdict(r) for r in results]
            report["ratios"] = print_ratios(results, SATURATED_RATIOS, "throughput")
            report["startup"] = startup
            print(f"\nstart-up and memory: {json.dumps(startup)}")
            if paced:
                print(f"\n== Paced load (not a target): {TARGET_CONCURRENCY} connections, "
                      f"each waiting {args.paced_think_ms:g} ms after every answer ==")
                print_table(paced)
                report["paced"] = [asdict(r) for r in paced]
                report["paced_ratios"] = print_ratios(paced, PACED_RATIOS, "p99")
        if not args.skip_jwt:
            print("\n== Production profile: JWT verification cost ==")
            report["jwt"] = jwt_load.measure(args, workdir, osteocds_server)
        if not args.skip_fhir:
            from benchmarks import fhir_path

            print("\n== FHIR path: no prefetch, real FHIR server with added latency ==")
            report["fhir"] = fhir_path.measure(args, workdir, osteocds_server)
    print("\n== Targets (issue 8) ==")
    print(format_checks(check_targets(report)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
