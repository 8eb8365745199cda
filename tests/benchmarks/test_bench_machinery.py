"""The benchmark machinery: wrk output parsing, and one short real run of `benchmarks/run.py`
(service and bare-Flask baseline under gunicorn, driven by wrk) bounded well under a minute."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import parse_wrk

ROOT = Path(__file__).resolve().parents[2]

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:41234/cds-services/osteoporosis-patient-view
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.12ms    1.01ms  14.20ms   80.00%
  Latency Distribution
     50%    8.95ms
     75%    9.40ms
     90%   10.10ms
     99%    1.20s
  109 requests in 1.00s, 700.12KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    108.91
Transfer/sec:    699.00KB
"""


def test_parse_wrk_reads_counts_rates_and_percentiles_in_ms() -> None:
    total, errors, rate, p50, p99 = parse_wrk(WRK_OUTPUT)
    assert (total, errors, rate) == (109, 7, 108.91)
    assert p50 == pytest.approx(8.95)
    assert p99 == pytest.approx(1200.0)  # seconds converted


def test_parse_wrk_microseconds() -> None:
    text = WRK_OUTPUT.replace("50%    8.95ms", "50%  850.00us")
    assert parse_wrk(text)[3] == pytest.approx(0.85)


@pytest.mark.timeout(120)
def test_a_short_bench_run_measures_both_servers(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make system-deps installs it)")
    report = tmp_path / "bench.json"
    dev_store = ROOT / "data" / "osteocds.sqlite3"
    before = _stat(dev_store)
    env = {key: value for key, value in os.environ.items() if key != "OSTEOCDS_DATA_DIR"}
    run = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--seconds", "1", "--rounds", "2",
         "--concurrency", "1", "--workers", "1", "--threads", "2", "--skip-jwt", "--skip-fhir",
         "--paced-think-ms", "100", "--json", str(report)],
        cwd=ROOT, check=True, timeout=150, capture_output=True, env=env, text=True,
    )
    assert _stat(dev_store) == before  # the run wrote its issued cards to its own store
    results = json.loads(report.read_text())
    measured = {(r["scenario"], r["server"]) for r in results["prefetch"]}
    for scenario in ("patient-view-50", "order-select-50", "patient-view-500"):
        assert {(scenario, "baseline"), (scenario, "osteocds")} <= measured
    for result in results["prefetch"]:
        assert result["requests"] > 0
        assert result["errors"] == 0, result  # every service answer was a 200
        assert result["cpu_ms_per_request"] > 0
    rounds = {(r["scenario"], r["server"], r["round"]) for r in results["prefetch"]}
    assert len(rounds) == len(results["prefetch"]) == 12  # 3 scenarios x 2 servers x 2 rounds
    assert {r["scenario"] for r in results["ratios"]} == {
        "patient-view-50", "order-select-50", "patient-view-500"}
    for ratio in results["ratios"]:
        assert len(ratio["throughput_rounds"]) == 2
        assert min(ratio["throughput_rounds"]) <= ratio["throughput"] <= max(
            ratio["throughput_rounds"])
    # the run ends with the verdict: c = 8 was not run (not measured), the heavy patient was
    verdicts = run.stdout.split("== Targets (issue 8) ==", 1)[1]
    assert re.search(r"patient-view-50, c = 8: throughput .* not measured", verdicts)
    assert re.search(r"patient-view-500, c = 1: p50 <= 40 ms +(met|NOT MET) ", verdicts)
    assert re.search(r"\d+ of 3 measured targets met \(7 not measured\)", verdicts)
    assert results["startup"]["service_worker_rss_mb"]
    _check_paced(results, run.stdout, think_ms=100)
    from service.compiled import build_description

    assert results["build"] == build_description()  # which build the figures are of



def _check_paced(results: dict, stdout: str, think_ms: float) -> None:
    """The paced part: both 50-resource bodies on both servers, 8 connections each waiting
    `think_ms` after every answer, so no line can beat 8 x 1000 / think_ms requests a second
    (unpaced, either server answers several times that here)."""
    assert "== Paced load (not a target): 8 connections, each waiting 100 ms" in stdout
    lines = {(r["scenario"], r["server"], r["round"]) for r in results["paced"]}
    assert lines == {(scenario, server, number)
                     for scenario in ("patient-view-50", "order-select-50")
                     for server in ("baseline", "osteocds") for number in (1, 2)}
    ceiling = 8 * 1000 / think_ms
    for result in results["paced"]:
        assert (result["concurrency"], result["think_ms"], result["errors"]) == (8, think_ms, 0)
        assert 0 < result["requests_per_second"] <= ceiling * 1.1, result
    for ratio in results["paced_ratios"]:
        assert len(ratio["p99_rounds"]) == 2
        assert min(ratio["p99_rounds"]) <= ratio["p99"] <= max(ratio["p99_rounds"])
    assert {r["scenario"] for r in results["paced_ratios"]} == {
        "patient-view-50", "order-select-50"}
    prefetch_rates = [r["requests_per_second"] for r in results["prefetch"]
                      if r["scenario"] == "patient-view-50" and r["server"] == "baseline"]
    assert max(prefetch_rates) > ceiling * 1.1  # the pacing, not the server, set the rate


def test_first_call_reports_the_start_and_each_hook_call() -> None:
    output = subprocess.run(
        [sys.executable, "benchmarks/first_call.py", "--starts", "1", "--calls", "2"],
        cwd=ROOT, check=True, timeout=110, capture_output=True, text=True,
    ).stdout
    match = re.fullmatch(r"start 1: ready ([\d.]+) s; hook calls ([\d.]+), ([\d.]+) ms\n", output)
    assert match, output
    ready, first, second = (float(value) for value in match.groups())
    assert 0 < ready < 30
    assert first > 0
    assert second > 0

def _stat(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file, None when it does not exist."""
    return (path.stat().st_size, path.stat().st_mtime_ns) if path.exists() else None


def test_compare_builds_runs_each_build_it_names(tmp_path: Path) -> None:
    from benchmarks import compare_builds
    from service.compiled import build_description

    copy = compare_builds.interpreted_copy(tmp_path / "copy")
    assert not list(copy.rglob("*.so"))
    assert compare_builds.build_seen_by(copy) == "interpreted"
    assert compare_builds.build_seen_by(None) == build_description()
    if build_description() == "interpreted":  # `make interpreted`: the script refuses to compare
        done = subprocess.run([sys.executable, "benchmarks/compare_builds.py"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "make compile" in done.stderr
        return
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make system-deps installs it)")
    report = tmp_path / "builds.json"
    subprocess.run(
        [sys.executable, "benchmarks/compare_builds.py", "--rounds", "1", "--seconds", "1",
         "--concurrency", "2", "--workers", "1", "--threads", "2", "--json", str(report)],
        cwd=ROOT, check=True, timeout=110, capture_output=True,
    )
    results = json.loads(report.read_text())
    assert set(results["summary"]) == {"compiled", "interpreted", "baseline"}
    for runs in results["runs"].values():
        assert runs[0]["requests"] > 0
        assert runs[0]["errors"] == 0
        assert runs[0]["cpu_ms_per_request"] > 0


def test_compare_builds_copies_a_revision_from_git(tmp_path: Path) -> None:
    """`--against REV` runs the sources of REV: here HEAD's, left uncompiled (the compile step
    is `make compile`'s command, tested with the build)."""
    from benchmarks import compare_builds

    copy = compare_builds.revision_copy("HEAD", tmp_path / "rev", compile_modules=False)
    head = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:service/hooks.py"],
                          capture_output=True, text=True, check=True).stdout
    assert (copy / "service" / "hooks.py").read_text() == head
    assert (copy / "setup.py").exists()
    assert not list(copy.rglob("*.so"))
    assert compare_builds.build_seen_by(copy) == "interpreted"
    with pytest.raises(subprocess.CalledProcessError):
        compare_builds.revision_copy("no-such-revision", tmp_path / "none", compile_modules=False)


def test_instruction_counts_are_read_from_callgrind_and_the_counted_program_runs() -> None:
    """`benchmarks/instructions.py`: its parsing, and its measured program (the part callgrind
    runs) answering real hook calls (the callgrind run itself takes minutes: by hand only)."""
    from benchmarks.instructions import instructions_per_call

    output = "==4242== Events    : Ir\n==4242== Collected : 1340979457\n==4242==\n"
    assert instructions_per_call(output, 200) == pytest.approx(6_704_897.285)
    with pytest.raises(ValueError, match="Collected"):
        instructions_per_call("==4242== I   refs: 12\n", 1)
    for extra in ([], ["--baseline"], ["--jwt", "RS384"]):
        result = subprocess.run(
            [sys.executable, "benchmarks/instructions.py", "--inner", "--calls", "2", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stderr[-2000:]


def test_in_process_timing_alternates_the_apps_and_reports_each_turn() -> None:
    """`benchmarks/in_process.py`: the order swaps every turn, the report's ratios are the
    turns' own, and a real short run times both apps (the service's store closed before its
    files go: no issued-card rows lost to a deleted database)."""
    from benchmarks import in_process

    assert [in_process.turn_order(turn)[0] for turn in (1, 2, 3)] == [
        "baseline", "service", "baseline"]
    text = in_process.report("order-select-50", [{"baseline": 500.0, "service": 1000.0},
                                                 {"service": 1500.0, "baseline": 500.0},
                                                 {"baseline": 800.0, "service": 1000.0}])
    assert "turn 2: baseline 500 us, service 1500 us, 3.00 x" in text
    assert text.endswith("median 2.00 x (turns 1.25-3.00)")
    result = subprocess.run(
        [sys.executable, "benchmarks/in_process.py", "--calls", "3", "--turns", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"turn 2: baseline \d+ us, service \d+ us, [\d.]+ x", result.stdout)
    assert "could not be written" not in result.stderr
    assert "Logging error" not in result.stderr
