"""The FHIR path: the service with no prefetch against a FHIR server, every FHIR response delayed
by `--fhir-delay-ms` (default 50 ms).

- `mid-50` (persona x02): the real test FHIR server (Medplum in memory, `tests/fhir_server/`).
  Reports the hook call's wall time against the slowest single query the service has to run (the
  six discovery templates, timed directly against the same server).
- `history-2000` (a patient with about 2,000 Observations the service asks for): the static paged
  server of `benchmarks/static_fhir.py` (pre-built pages, same added latency), because Medplum's
  in-memory search takes ~26 s for that one query whatever the service does. Reports the hook's
  wall time against the default time budget, and the pages the service had to follow.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import requests

import fhir_fixtures
from benchmarks.harness import Server
from benchmarks.static_fhir import StaticPagedFhirServer
from service.config import Settings
from service.hook_requests import build_hook_request
from service.knowledge import load_knowledge
from service.record.queries import fill_template, service_templates
from tests.fhir_server.fixture import running_fhir_server

REPEATS = 15  # hook calls per patient (median reported); the history patient gets 5
QUERY_REPEATS = 5  # direct runs of each query (median); the history patient gets 3
QUERY_TIMEOUT_SECONDS = 120
HISTORY_RESOURCES = 3300  # about 2,000 of them Observations the service asks for
PATH = "/cds-services/osteoporosis-patient-view"


def _queries(patient_id: str) -> dict[str, str]:
    templates = service_templates(load_knowledge())
    return {key: fill_template(t, patient_id) for key, t in templates.items()}


def _follow_pages(session: requests.Session, base: str, query: str) -> tuple[int, int]:
    """GET a query and all its next pages; (entries, pages)."""
    url, entries, pages = f"{base}/{query}", 0, 0
    while url:
        bundle = session.get(url, timeout=QUERY_TIMEOUT_SECONDS).json()
        pages += 1
        entries += len(bundle.get("entry", [])) if bundle.get("resourceType") == "Bundle" else 1
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"),
                   None)
    return entries, pages


def _slowest_query_ms(base: str, patient_id: str, repeats: int) -> tuple[float, str]:
    session = requests.Session()
    medians = {}
    for key, query in _queries(patient_id).items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            _follow_pages(session, base, query)
            times.append((time.perf_counter() - started) * 1000)
        medians[key] = statistics.median(times)
    slowest = max(medians, key=medians.__getitem__)
    return medians[slowest], slowest


def _hook_wall_ms(service: Server, body: dict, repeats: int) -> tuple[float, int]:
    session = requests.Session()
    times, status = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        response = session.post(service.base_url + PATH, json=body, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(times), status


def _measure_patient(service: Server, fhir_base: str, bundle: dict, patient: str, *,
                     query_repeats: int, hook_repeats: int) -> dict:
    slowest_ms, slowest_key = _slowest_query_ms(fhir_base, patient, query_repeats)
    observations = _follow_pages(requests.Session(), fhir_base, _queries(patient)["observations"])
    body = build_hook_request("patient-view", bundle, prefetch="none", fhir_server=fhir_base)
    wall_ms, status = _hook_wall_ms(service, body, hook_repeats)
    return {
        "hook_wall_ms_median": round(wall_ms, 1),
        "slowest_query_ms_median": round(slowest_ms, 1),
        "slowest_query": slowest_key,
        "ratio": round(wall_ms / slowest_ms, 2),
        "observations": observations[0],
        "observation_pages": observations[1],
        "status": status,
    }


def _print(name: str, figures: dict, deadline_seconds: float) -> None:
    print(f"{name:<14} hook {figures['hook_wall_ms_median']:7.1f} ms  slowest query "
          f"({figures['slowest_query']}) {figures['slowest_query_ms_median']:7.1f} ms  "
          f"ratio {figures['ratio']:4.2f}  budget {deadline_seconds * 1000:.0f} ms  "
          f"observations {figures['observations']} in {figures['observation_pages']} pages  "
          f"HTTP {figures['status']}")


def measure(args, workdir: Path, make_server: Callable[..., Server]) -> dict:
    as_of = date.today()
    delay = getattr(args, "fhir_delay_ms", 50)
    deadline = Settings().fhir_deadline_seconds
    knowledge = load_knowledge()
    mid = fhir_fixtures.render_persona("x02", as_of)
    heavy = fhir_fixtures.heavy_patient(HISTORY_RESOURCES, as_of)
    report: dict = {"fhir_delay_ms": delay, "deadline_seconds": deadline}
    service = make_server(args.workers, args.threads,
                          extra_env={"OSTEOCDS_DATA_DIR": str(workdir / "fhir-data")})
    try:
        service.start()
        with running_fhir_server(delay_ms=delay) as fhir:
            fhir.load(fhir_fixtures.render_transaction("x02", as_of))
            report["mid-50"] = _measure_patient(
                service, fhir.base_url, mid, fhir_fixtures.patient_id("x02"),
                query_repeats=QUERY_REPEATS, hook_repeats=REPEATS)
            report["mid-50"]["fhir_server"] = "medplum-in-memory"
            _print("mid-50", report["mid-50"], deadline)
        with StaticPagedFhirServer(
            heavy, observation_codes=knowledge.prefetch_observation_codes(),
            local_observation_codes=knowledge.prefetch_local_observation_codes(),
            delay_ms=delay,
        ) as static:
            report["history-2000"] = _measure_patient(
                service, static.base_url, heavy, static.patient_id,
                query_repeats=3, hook_repeats=5)
            report["history-2000"]["fhir_server"] = "static-paged"
            report["history-2000"]["within_budget"] = (
                report["history-2000"]["status"] == 200
                and report["history-2000"]["hook_wall_ms_median"] <= deadline * 1000)
            _print("history-2000", report["history-2000"], deadline)
    finally:
        service.stop()
    return report
