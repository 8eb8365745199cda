"""Metrics add up across gunicorn workers: a real `osteocds serve --dev --workers 2`, requests on
fresh connections until both workers have answered some, then every scrape (whichever worker
answers it) reports exactly the number of requests sent, and the stale samples left in the
multiprocess directory by an earlier run were wiped at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.live_service import running_service
from tests.protocol.examples import hook_request

pytestmark = pytest.mark.integration

SERVICE = "osteoporosis-patient-view"
MIN_REQUESTS = 40
MAX_SECONDS = 60.0


def _leave_stale_samples(directory: Path) -> None:
    """What a previous run leaves behind: 1000 counted requests for the same series."""
    script = (
        "from service import telemetry\n"
        "for _ in range(1000):\n"
        f"    telemetry.observe_request('service', '{SERVICE}', 200, 0.1)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    assert list(directory.glob("counter_*.db"))


def _scrape(base_url: str) -> Counter[str]:
    """Totals for SERVICE: requests per status, request durations counted, cards."""
    response = requests.get(f"{base_url}/metrics", timeout=10,
                            headers={"Connection": "close"})
    assert response.status_code == 200
    totals: Counter[str] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.labels.get("service") != SERVICE:
                continue
            if sample.name == "osteocds_http_requests_total":
                totals[f"status {sample.labels['status']}"] += int(sample.value)
            elif sample.name in ("osteocds_cards_total",
                                 "osteocds_http_request_duration_seconds_count"):
                totals[sample.name] += int(sample.value)
    return totals


def _call(base_url: str) -> tuple[int, int]:
    """(status, number of cards) of one hook call on a fresh connection."""
    response = requests.post(f"{base_url}/cds-services/{SERVICE}",
                             json=hook_request("patient-view"),
                             headers={"Connection": "close"}, timeout=30)
    cards = len(response.json()["cards"]) if response.status_code == 200 else 0
    return response.status_code, cards


def _worker_pids(directory: Path) -> set[str]:
    return {p.stem.split("_", 1)[1] for p in directory.glob("counter_*.db")}


def test_counts_add_up_across_two_workers(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    _leave_stale_samples(metrics_dir)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with running_service(tmp_path, args=("--dev", "--workers", "2", "--threads", "4"),
                         env=env) as service:
        seen: Counter[str] = Counter()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            while seen.total() < MIN_REQUESTS or len(_worker_pids(metrics_dir)) < 2:
                assert time.monotonic() - started < MAX_SECONDS, "one worker took every request"
                for status, cards in pool.map(lambda _: _call(service.base_url), range(8)):
                    seen[f"status {status}"] += 1
                    seen["osteocds_cards_total"] += cards
        pids = _worker_pids(metrics_dir)
        assert len(pids) >= 2
        assert str(service.process.pid) not in pids, "the master serves no request"
        scrapes = [_scrape(service.base_url) for _ in range(6)]
    sent = sum(n for key, n in seen.items() if key.startswith("status "))
    seen["osteocds_http_request_duration_seconds_count"] = sent
    for totals in scrapes:
        # Whichever worker answers the scrape, it reports every worker's requests, and none of
        # the 1000 stale ones: the directory was wiped before the workers forked.
        assert +totals == +seen
