"""The FHIR path: the service with no prefetch against the real test FHIR server (Medplum in
memory, `tests/fhir_server/`), every FHIR response delayed by `--fhir-delay-ms` (default 50 ms).

Reports the hook call's wall time against the slowest single query the service has to run (the
six discovery templates, timed directly against the same server), and a patient with a paged
history of about 2,000 Observations against the default time budget.
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
from service.config import Settings
from service.hook_requests import build_hook_request
from service.knowledge import load_knowledge
from service.record.queries import prefetch_templates
from tests.fhir_server.fixture import running_fhir_server

REPEATS = 15  # hook calls per patient (median reported); the history patient gets 3
QUERY_REPEATS = 5  # direct runs of each query (median); the history patient gets 1
QUERY_TIMEOUT_SECONDS = 120
HISTORY_RESOURCES = 3300  # about 2,000 of them Observations the service asks for
PATH = "/cds-services/osteoporosis-patient-view"


def _queries(patient_id: str) -> dict[str, str]:
    templates = prefetch_templates(load_knowledge().prefetch_observation_codes())
    return {key: t.replace("{{context.patientId}}", patient_id) for key, t in templates.items()}


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


def measure(args, workdir: Path, make_server: Callable[..., Server]) -> dict:
    as_of = date.today()
    delay = getattr(args, "fhir_delay_ms", 50)
    with running_fhir_server(delay_ms=delay) as fhir:
        fhir.load(fhir_fixtures.render_transaction("x02", as_of))
        fhir.load(fhir_fixtures.heavy_transaction(HISTORY_RESOURCES, as_of))
        mid = fhir_fixtures.render_persona("x02", as_of)
        heavy = fhir_fixtures.heavy_patient(HISTORY_RESOURCES, as_of)
        service = make_server(args.workers, args.threads,
                              extra_env={"OSTEOCDS_DATA_DIR": str(workdir / "fhir-data")})
        try:
            service.start()
            report = {"fhir_delay_ms": delay,
                      "deadline_seconds": Settings().fhir_deadline_seconds}
            for name, bundle in (("mid-50", mid), ("history-2000", heavy)):
                patient = fhir_fixtures.patient_id("x02") if name == "mid-50" else \
                    bundle["entry"][0]["resource"]["id"]
                history = name != "mid-50"
                slowest_ms, slowest_key = _slowest_query_ms(
                    fhir.base_url, patient, 1 if history else QUERY_REPEATS)
                observations = _follow_pages(requests.Session(), fhir.base_url,
                                             _queries(patient)["observations"])
                body = build_hook_request("patient-view", bundle, prefetch="none",
                                          fhir_server=fhir.base_url)
                wall_ms, status = _hook_wall_ms(service, body, 3 if history else REPEATS)
                report[name] = {
                    "hook_wall_ms_median": round(wall_ms, 1),
                    "slowest_query_ms_median": round(slowest_ms, 1),
                    "slowest_query": slowest_key,
                    "ratio": round(wall_ms / slowest_ms, 2),
                    "observations": observations[0],
                    "observation_pages": observations[1],
                    "status": status,
                }
                print(f"{name:<14} hook {wall_ms:7.1f} ms  slowest query ({slowest_key}) "
                      f"{slowest_ms:7.1f} ms  ratio {wall_ms / slowest_ms:4.2f}  "
                      f"observations {observations[0]} in {observations[1]} pages  "
                      f"HTTP {status}")
        finally:
            service.stop()
    return report
