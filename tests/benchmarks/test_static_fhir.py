"""benchmarks/static_fhir.py: the paged FHIR server of the 2,000-Observation benchmark answers the
service's queries like a FHIR server (matches, pages, next links), and the service reads the whole
paged history through it."""

from __future__ import annotations

from datetime import date

import requests

import fhir_fixtures
from benchmarks.static_fhir import StaticPagedFhirServer
from service.config import Settings
from service.hook_requests import build_hook_request
from service.knowledge import load_knowledge
from service.record.gather import gather_record
from service.record.queries import fill_template, service_templates

AS_OF = date(2026, 6, 1)


def _server(resources: int) -> StaticPagedFhirServer:
    knowledge = load_knowledge()
    return StaticPagedFhirServer(
        fhir_fixtures.heavy_patient(resources, AS_OF),
        observation_codes=knowledge.prefetch_observation_codes(),
        local_observation_codes=knowledge.prefetch_local_observation_codes())


def _pages(url: str) -> list[dict]:
    pages = []
    while url:
        pages.append(requests.get(url, timeout=10).json())
        url = next((link["url"] for link in pages[-1].get("link", [])
                    if link["relation"] == "next"), None)
    return pages


def test_pages_by_count_clamped_and_by_20_without_it() -> None:
    with _server(600) as server:
        templates = service_templates(load_knowledge())
        query = fill_template(templates["observations"], server.patient_id)
        matches = server.matches("Observation")
        assert matches > 300
        one_page = _pages(f"{server.base_url}/{query}")
        assert len(one_page) == 1
        assert len(one_page[0]["entry"]) == matches
        assert one_page[0]["total"] == matches
        by_20 = _pages(f"{server.base_url}/{query.replace('&_count=1000', '')}")
        assert len(by_20) == -(-matches // 20)
        assert [e["fullUrl"] for p in by_20 for e in p["entry"]] == [
            e["fullUrl"] for e in one_page[0]["entry"]]
        assert len(_pages(f"{server.base_url}/{query.replace('1000', '100')}")) == -(
            -matches // 100)
        patient = requests.get(f"{server.base_url}/Patient/{server.patient_id}", timeout=10)
        assert patient.json()["id"] == server.patient_id
        assert requests.get(f"{server.base_url}/Patient/other", timeout=10).status_code == 404
        other = requests.get(f"{server.base_url}/Condition?patient=other", timeout=10).json()
        assert "entry" not in other


def test_the_service_reads_a_paged_history_whole() -> None:
    with _server(600) as server:
        bundle = fhir_fixtures.heavy_patient(600, AS_OF)
        body = build_hook_request("patient-view", bundle, prefetch="none",
                                  fhir_server=server.base_url)
        record = gather_record(body, settings=Settings(profile="dev", fhir_max_pages=3),
                               templates=service_templates(load_knowledge()))
        assert len(record.observations) == server.matches("Observation")
        assert record.patient is not None
