"""Two builds of the service and the bare Flask baseline in the same run, driven alternately by
wrk: by default `osteocds serve` from this checkout (compiled by `make compile`) against a
pure-Python copy of it (the same sources, no compiled modules); with `--against REV`, this
checkout against the sources of git revision REV, compiled the same way (an A/B of a change).

    .venv/bin/python benchmarks/compare_builds.py [--scenario patient-view-50] [--concurrency 8]
        [--rounds 4] [--seconds 5] [--against REV] [--json results.json]

Prints, per build, the medians over the rounds of req/s, p99 and server CPU ms per request, and
throughput and CPU as ratios to the baseline of the same round.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bodies
from benchmarks.harness import LoadResult, Server, run_wrk
from benchmarks.run import SERVICE_PATH, gunicorn_baseline, osteocds_server
from service.compiled import build_description

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "cards", "fhir_fixtures")


def interpreted_copy(target: Path) -> Path:
    """The checkout's packages without compiled modules or their manifest."""
    ignore = shutil.ignore_patterns("*.so", "_compiled.json", "__pycache__", "node_modules")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=ignore)
    return target


def revision_copy(revision: str, target: Path, *, compile_modules: bool = True) -> Path:
    """The packages (and build files) of git revision `revision`, compiled with mypyc as
    `make compile` would (about 1.5 min) unless `compile_modules` is False."""
    files = [*PACKAGES, "setup.py", "pyproject.toml", "README.md"]
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, *files],
                             capture_output=True, check=True, timeout=120).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    if not compile_modules:
        return target
    subprocess.run([sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"], cwd=target,
                   env={**os.environ, "OSTEOCDS_COMPILE": "1"}, check=True, timeout=900,
                   capture_output=True)
    return target


def service_server(name: str, workers: int, threads: int, data_dir: Path,
                   python_path: Path | None = None) -> Server:
    """`osteocds serve --dev` (`run.osteocds_server`) named `name`; PYTHONSAFEPATH keeps the
    working directory off sys.path, so the packages come from `python_path` when given (the
    interpreted copy), else from the checkout."""
    env = {"PYTHONSAFEPATH": "1", "OSTEOCDS_DATA_DIR": str(data_dir)}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    return replace(osteocds_server(workers, threads, extra_env=env), name=name)


def build_seen_by(python_path: Path | None) -> str:
    """`build_description()` as a server started with this `python_path` would import it."""
    env = {"PYTHONSAFEPATH": "1", "PATH": "/usr/bin:/bin"}
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    probe = "from service.compiled import build_description; print(build_description())"
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def summarize(results: dict[str, list[LoadResult]]) -> dict[str, dict[str, float]]:
    baseline = results["baseline"]
    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "requests_per_second": statistics.median(r.requests_per_second for r in runs),
            "p99_ms": statistics.median(r.p99_ms for r in runs),
            "cpu_ms_per_request": statistics.median(r.cpu_ms_per_request for r in runs),
            "throughput_x": statistics.median(
                r.requests_per_second / b.requests_per_second for r, b in zip(runs, baseline,
                                                                               strict=True)),
            "cpu_x": statistics.median(
                r.cpu_ms_per_request / b.cpu_ms_per_request for r, b in zip(runs, baseline,
                                                                             strict=True)),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="patient-view-50",
                        choices=["patient-view-50", "order-select-50", "patient-view-500"])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--against", metavar="REV",
                        help="compare with git revision REV (compiled) instead of the interpreted "
                             "copy of this checkout")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    build = build_description()
    if build == "interpreted":
        print("this checkout has no compiled build: run `make compile` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="osteocds-builds-") as tmp:
        workdir = Path(tmp)
        scenario = next(s for s in bodies.write_bodies(workdir) if s.name == args.scenario)
        if args.against:  # compiled too, though perhaps with another list of modules
            this_name, other_name = "this", args.against
            copy = revision_copy(args.against, workdir / "revision")
        else:
            this_name, other_name = "compiled", "interpreted"
            copy = interpreted_copy(workdir / "interpreted")
        other_build = build_seen_by(copy)
        expected_other = "compiled" if args.against else "interpreted"
        if not other_build.startswith(expected_other) or build_seen_by(None) != build:
            raise SystemExit("the two servers would not run the builds they are named after")
        servers = [
            service_server(this_name, args.workers, args.threads, workdir / "data-this"),
            service_server(other_name, args.workers, args.threads, workdir / "data-other", copy),
            gunicorn_baseline(args.workers, args.threads),
        ]
        results: dict[str, list[LoadResult]] = {server.name: [] for server in servers}
        try:
            for server in servers:
                server.start()
            for _ in range(args.rounds):
                for server in servers:
                    path = SERVICE_PATH[scenario.hook]
                    results[server.name].append(run_wrk(
                        server, scenario=scenario.name, path=path, body_file=scenario.body_file,
                        concurrency=args.concurrency, seconds=args.seconds))
        finally:
            for server in servers:
                server.stop()
    summary = summarize(results)
    print(f"{scenario.name}, c = {args.concurrency}, {args.rounds} rounds of {args.seconds:g} s; "
          f"this checkout: {build}; {other_name}: {other_build}")
    print(f"{'build':<13}{'req/s':>8}{'p99 ms':>9}{'cpu ms/req':>12}{'throughput x':>14}"
          f"{'cpu x':>8}{'errors':>8}")
    for name, figures in summary.items():
        errors = sum(r.errors for r in results[name])
        print(f"{name:<13}{figures['requests_per_second']:>8.0f}{figures['p99_ms']:>9.1f}"
              f"{figures['cpu_ms_per_request']:>12.2f}{figures['throughput_x']:>14.2f}"
              f"{figures['cpu_x']:>8.2f}{errors:>8}")
    if args.json:
        args.json.write_text(json.dumps({"build": build, "summary": summary, "runs": {
            name: [asdict(r) for r in runs] for name, runs in results.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
