"""Issue 8's verdict as `make bench` prints it (`benchmarks/targets.py`), from made-up reports:
medians over rounds, each round against its own baseline, and "not measured" for skipped parts."""

from __future__ import annotations

from typing import Any

from benchmarks.targets import check_targets, format_checks, round_ratios


def _line(scenario: str, concurrency: int, server: str, number: int, rate: float,
          p50: float = 5.0, p99: float = 20.0) -> dict[str, Any]:
    return {"scenario": scenario, "concurrency": concurrency, "server": server, "round": number,
            "requests_per_second": rate, "p50_ms": p50, "p99_ms": p99,
            "cpu_ms_per_request": 1.0, "requests": 100, "errors": 0}


def _fhir(mid_ratio: float = 1.1, history_ratio: float = 1.2, within: bool = True,
          observations: int = 2633) -> dict[str, Any]:
    def figures(ratio: float) -> dict[str, Any]:
        return {"ratio": ratio, "hook_wall_ms_median": 200.0 * ratio,
                "slowest_query_ms_median": 200.0, "status": 200, "observations": observations,
                "observation_pages": 3}
    return {"deadline_seconds": 3.0, "mid-50": figures(mid_ratio),
            "history-2000": {**figures(history_ratio), "within_budget": within}}


def _report(prefetch: list[dict[str, Any]], **parts: Any) -> dict[str, Any]:
    return {"prefetch": prefetch, **parts}


def _verdicts(report: dict[str, Any]) -> dict[str, bool | None]:
    return {check.target: check.met for check in check_targets(report)}


def test_each_round_is_divided_by_the_baseline_of_the_same_round() -> None:
    prefetch = [
        _line("order-select-50", 8, "baseline", 1, 1000),
        _line("order-select-50", 8, "osteocds", 1, 600),
        _line("order-select-50", 8, "baseline", 2, 2000),
        _line("order-select-50", 8, "osteocds", 2, 900),
        _line("order-select-50", 8, "osteocds", 3, 700),  # no baseline in round 3: left out
    ]
    assert round_ratios(prefetch, "order-select-50", 8, "requests_per_second") == [0.6, 0.45]


def test_throughput_is_judged_by_the_median_round_not_the_best_or_the_worst() -> None:
    rounds = [(1000, 400), (1000, 520), (1000, 510), (1000, 900), (1000, 300)]  # median 0.51
    prefetch = [line for n, (base, service) in enumerate(rounds, 1) for line in (
        _line("patient-view-50", 8, "baseline", n, base),
        _line("patient-view-50", 8, "osteocds", n, service))]
    checks = {c.target: c for c in check_targets(_report(prefetch))}
    check = checks["patient-view-50, c = 8: throughput >= 0.5 x the baseline"]
    assert check.met is True
    assert check.measured == "0.51 x (5 rounds: 0.30-0.90 x)"
    prefetch[3] = _line("patient-view-50", 8, "osteocds", 2, 480)  # median now 0.48
    assert _verdicts(_report(prefetch))[check.target] is False


def test_latency_targets_use_the_service_median_and_name_the_baseline() -> None:
    prefetch = [
        _line("order-select-50", 8, "osteocds", 1, 800, p99=24.0),
        _line("order-select-50", 8, "osteocds", 2, 800, p99=31.0),
        _line("order-select-50", 8, "osteocds", 3, 800, p99=25.0),
        _line("order-select-50", 8, "baseline", 1, 1600, p99=18.0),
        _line("patient-view-500", 1, "osteocds", 1, 60, p50=41.0),
    ]
    checks = {c.target: c for c in check_targets(_report(prefetch))}
    p99 = checks["order-select-50, c = 8: p99 <= 25 ms"]
    assert p99.met is True  # 25.0 is within "<= 25"
    assert p99.measured == ("25.0 ms (3 rounds: 24.00-31.00 ms); baseline 18.0 ms; "
                            "service / baseline 1.33 x")  # round 1's 24 / 18: the only pair
    assert checks["patient-view-500, c = 1: p50 <= 40 ms"].met is False
    assert checks["patient-view-50, c = 8: p99 <= 25 ms"].met is None  # not in this report


def test_a_latency_line_gives_the_median_of_each_rounds_ratio_to_its_own_baseline() -> None:
    rounds = [(16.0, 40.0), (24.0, 36.0), (20.0, 30.0)]  # ratios 2.5, 1.5, 1.5
    prefetch = [line for n, (base, service) in enumerate(rounds, 1) for line in (
        _line("patient-view-50", 8, "baseline", n, 1000, p99=base),
        _line("patient-view-50", 8, "osteocds", n, 500, p99=service))]
    p99 = {c.target: c for c in check_targets(_report(prefetch))}[
        "patient-view-50, c = 8: p99 <= 25 ms"]
    assert p99.met is False  # judged on the service's own median, 36 ms, as issue 8 asks
    # the median of the ratios (1.5), not the ratio of the medians (36 / 20 = 1.8)
    assert p99.measured.endswith("; baseline 20.0 ms; service / baseline 1.50 x")


def test_fhir_start_up_and_memory_targets() -> None:
    startup = {"service_ready_seconds": 1.3, "service_worker_rss_mb": [90.0, 151.0]}
    verdicts = _verdicts(_report([], fhir=_fhir(history_ratio=1.6), startup=startup))
    assert verdicts["FHIR path mid-50: hook wall time <= 1.5 x the slowest query"] is True
    assert verdicts["FHIR path history-2000: hook wall time <= 1.5 x the slowest query"] is False
    assert verdicts["FHIR path: 2,000 paged Observations within the default time budget"] is True
    assert verdicts["service start-up <= 2 s"] is True
    assert verdicts["resident memory per worker <= 150 MB"] is False  # the largest worker counts
    paged = "FHIR path: 2,000 paged Observations within the default time budget"
    assert _verdicts(_report([], fhir=_fhir(within=False)))[paged] is False
    assert _verdicts(_report([], fhir=_fhir(observations=1999)))[paged] is False


def test_a_skipped_part_is_not_measured_and_the_summary_counts_only_what_was() -> None:
    checks = check_targets(_report([], startup={"service_ready_seconds": 2.5,
                                                "service_worker_rss_mb": [80.0]}))
    assert [c.met for c in checks].count(None) == len(checks) - 2
    text = format_checks(checks)
    assert "service start-up <= 2 s" in text
    assert "NOT MET" in text
    assert text.splitlines()[-1] == "1 of 2 measured targets met (8 not measured)"
