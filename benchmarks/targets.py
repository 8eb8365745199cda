"""Issue 8's targets judged from one `benchmarks/run.py` report (the dict `--json` writes), so
that every `make bench` ends with the verdict instead of leaving it to the reader.

Prefetch-path figures are medians over the run's alternating rounds (`--rounds`): the machine is
shared and one bad 10 s window used to flip a verdict. A part the run skipped (`--skip-fhir`, a
concurrency not asked for) is "not measured", never "met".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TARGET_CONCURRENCY = 8
FIFTY_RESOURCE_SCENARIOS = ("patient-view-50", "order-select-50")
HEAVY_SCENARIO = "patient-view-500"
MIN_THROUGHPUT_RATIO = 0.5
MAX_P99_MS = 25.0
MAX_HEAVY_P50_MS = 40.0
MAX_FHIR_RATIO = 1.5
MAX_STARTUP_SECONDS = 2.0
MAX_WORKER_RSS_MB = 150.0


@dataclass(frozen=True)
class TargetCheck:
    target: str  # what issue 8 asks
    measured: str  # the figure behind the verdict, with its spread over rounds
    met: bool | None  # None: this run did not measure it


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def spread(values: Sequence[float], unit: str = "") -> str:
    """"n rounds: low-high" (or the single value) for the figures behind a median."""
    if len(values) == 1:
        return f"1 round: {values[0]:.2f}{unit}"
    return f"{len(values)} rounds: {min(values):.2f}-{max(values):.2f}{unit}"


def check_targets(report: Mapping[str, Any]) -> list[TargetCheck]:
    """Every target of issue 8, in the issue's order."""
    prefetch = report.get("prefetch") or []
    checks = [_throughput(prefetch, scenario) for scenario in FIFTY_RESOURCE_SCENARIOS]
    checks += [_latency(prefetch, scenario, TARGET_CONCURRENCY, "p99_ms", MAX_P99_MS)
               for scenario in FIFTY_RESOURCE_SCENARIOS]
    checks.append(_latency(prefetch, HEAVY_SCENARIO, 1, "p50_ms", MAX_HEAVY_P50_MS))
    checks += _fhir(report.get("fhir"))
    checks += _startup(report.get("startup"))
    return checks


def _rounds(prefetch: Iterable[Mapping[str, Any]], scenario: str, concurrency: int,
            server: str) -> dict[int, Mapping[str, Any]]:
    return {result.get("round", 1): result for result in prefetch
            if result["scenario"] == scenario and result["concurrency"] == concurrency
            and result["server"] == server}


def round_ratios(prefetch: Iterable[Mapping[str, Any]], scenario: str, concurrency: int,
                 field: str) -> list[float]:
    """Service / baseline for `field`, each round against the baseline of the same round."""
    results = list(prefetch)
    service = _rounds(results, scenario, concurrency, "osteocds")
    baseline = _rounds(results, scenario, concurrency, "baseline")
    return [service[n][field] / baseline[n][field] for n in sorted(service)
            if n in baseline and baseline[n][field] > 0]


def _throughput(prefetch: Sequence[Mapping[str, Any]], scenario: str) -> TargetCheck:
    target = (f"{scenario}, c = {TARGET_CONCURRENCY}: throughput >= "
              f"{MIN_THROUGHPUT_RATIO} x the baseline")
    ratios = round_ratios(prefetch, scenario, TARGET_CONCURRENCY, "requests_per_second")
    if not ratios:
        return TargetCheck(target, "not measured", None)
    value = median(ratios)
    return TargetCheck(target, f"{value:.2f} x ({spread(ratios, ' x')})",
                       value >= MIN_THROUGHPUT_RATIO)


def _latency(prefetch: Sequence[Mapping[str, Any]], scenario: str, concurrency: int,
             field: str, limit: float) -> TargetCheck:
    name = field.removesuffix("_ms")
    target = f"{scenario}, c = {concurrency}: {name} <= {limit:g} ms"
    service = [r[field] for r in _rounds(prefetch, scenario, concurrency, "osteocds").values()]
    if not service:
        return TargetCheck(target, "not measured", None)
    value = median(service)
    measured = f"{value:.1f} ms ({spread(service, ' ms')})"
    baseline = [r[field] for r in _rounds(prefetch, scenario, concurrency, "baseline").values()]
    if baseline:
        measured += f"; baseline {median(baseline):.1f} ms"
    ratios = round_ratios(prefetch, scenario, concurrency, field)
    if ratios:  # the same run's reading of the line (docs/performance.md, round 12)
        measured += f"; service / baseline {median(ratios):.2f} x"
    return TargetCheck(target, measured, value <= limit)


def _fhir(fhir: Mapping[str, Any] | None) -> list[TargetCheck]:
    fhir = fhir or {}
    checks = []
    for name in ("mid-50", "history-2000"):
        target = f"FHIR path {name}: hook wall time <= {MAX_FHIR_RATIO} x the slowest query"
        figures = fhir.get(name)
        if not figures:
            checks.append(TargetCheck(target, "not measured", None))
            continue
        checks.append(TargetCheck(
            target,
            f"{figures['ratio']:.2f} x ({figures['hook_wall_ms_median']:.1f} against "
            f"{figures['slowest_query_ms_median']:.1f} ms, HTTP {figures['status']})",
            figures["status"] == 200 and figures["ratio"] <= MAX_FHIR_RATIO))
    history = fhir.get("history-2000")
    target = "FHIR path: 2,000 paged Observations within the default time budget"
    if not history:
        checks.append(TargetCheck(target, "not measured", None))
    else:
        checks.append(TargetCheck(
            target,
            f"{history['observations']} Observations in {history['observation_pages']} pages, "
            f"{history['hook_wall_ms_median']:.1f} ms against "
            f"{fhir['deadline_seconds'] * 1000:.0f} ms",
            bool(history.get("within_budget")) and history["observations"] >= 2000))
    return checks


def _startup(startup: Mapping[str, Any] | None) -> list[TargetCheck]:
    ready_target = f"service start-up <= {MAX_STARTUP_SECONDS:g} s"
    rss_target = f"resident memory per worker <= {MAX_WORKER_RSS_MB:g} MB"
    if not startup:
        return [TargetCheck(ready_target, "not measured", None),
                TargetCheck(rss_target, "not measured", None)]
    ready = startup["service_ready_seconds"]
    rss = startup.get("service_worker_rss_mb") or []
    return [
        TargetCheck(ready_target, f"{ready:.2f} s", ready <= MAX_STARTUP_SECONDS),
        TargetCheck(rss_target, f"{max(rss):.1f} MB (largest of {len(rss)})" if rss
                    else "not measured", max(rss) <= MAX_WORKER_RSS_MB if rss else None),
    ]


def format_checks(checks: Sequence[TargetCheck]) -> str:
    verdicts = {True: "met", False: "NOT MET", None: "not measured"}
    width = max(len(check.target) for check in checks)
    lines = [f"{check.target:<{width}}  {verdicts[check.met]:<12}  {check.measured}"
             for check in checks]
    judged = [check for check in checks if check.met is not None]
    met = sum(1 for check in judged if check.met)
    lines.append(f"{met} of {len(judged)} measured targets met"
                 + (f" ({len(checks) - len(judged)} not measured)" if len(judged) < len(checks)
                    else ""))
    return "\n".join(lines)
