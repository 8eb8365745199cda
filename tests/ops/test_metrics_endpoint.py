"""`GET /metrics` through the Flask test client (single process): what each request, card, FHIR
query and prefetch key adds, and that no patient data reaches a label."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import fhir_fixtures
from service import telemetry
from service.hook_requests import build_hook_request
from service.protocol.metrics import install_metrics
from tests.conftest import post_json
from tests.fhir_server.fixture import fhir_server  # noqa: F401 (fixture)
from tests.protocol.examples import hook_request

SERVICE = "osteoporosis-patient-view"
PATIENT_NAME = "Zelda-Quixote-Marchbanks"


def topic_card(context: Any) -> list[dict[str, Any]]:
    return [{
        "uuid": str(uuid.uuid4()),
        "summary": "Test card with a topic",
        "indicator": "warning",
        "source": {"label": "osteocds tests",
                   "topic": {"system": "https://osteocds.example/topics", "code": "test-topic"}},
    }]


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the /metrics answer, keyed by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(make_app, monkeypatch):
    monkeypatch.delenv(telemetry.MULTIPROC_ENV, raising=False)
    app = make_app(card_producers=[topic_card])
    install_metrics(app)
    install_metrics(app)  # idempotent: installing twice must not count twice
    return app.test_client()


def test_requests_cards_and_latency_are_counted(metered):
    before = samples(metered)
    for _ in range(3):
        assert post_json(metered, f"/cds-services/{SERVICE}", hook_request("patient-view")
                         ).status_code == 200
    assert post_json(metered, "/cds-services/no-such-service", {}).status_code == 404
    assert metered.get("/nowhere").status_code == 404
    after = samples(metered)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("osteocds_http_requests_total", endpoint="service", service=SERVICE,
                 status="200") == 3
    assert delta("osteocds_http_request_duration_seconds_count", endpoint="service",
                 service=SERVICE) == 3
    assert delta("osteocds_cards_total", service=SERVICE, topic="test-topic",
                 indicator="warning") == 3
    assert delta("osteocds_http_requests_total", endpoint="service", service="unknown",
                 status="404") == 1
    assert delta("osteocds_http_requests_total", endpoint="unmatched", service="-",
                 status="404") == 1


def test_a_refused_token_is_timed_like_any_request(metered):
    """Authentication runs before the request metrics' own hook: the latency histogram still
    counts a 401 (and times it from the first hook, authentication included)."""
    before = samples(metered)
    refused = post_json(metered, f"/cds-services/{SERVICE}", hook_request("patient-view"),
                        headers={"Authorization": "Bearer not-a-jwt"})
    assert refused.status_code == 401
    after = samples(metered)
    labels = {"endpoint": "service", "service": SERVICE}
    assert value(after, "osteocds_http_requests_total", status="401", **labels) - value(
        before, "osteocds_http_requests_total", status="401", **labels) == 1
    assert value(after, "osteocds_http_request_duration_seconds_count", **labels) - value(
        before, "osteocds_http_request_duration_seconds_count", **labels) == 1


def test_unknown_service_ids_never_become_labels(metered):
    post_json(metered, "/cds-services/Zelda-Quixote-Marchbanks", {"hook": "patient-view"})
    text = metered.get("/metrics").get_data(as_text=True)
    assert PATIENT_NAME not in text
    assert 'service="unknown"' in text


def test_layer_functions_count_fhir_queries_and_prefetch_sources(metered):
    before = samples(metered)
    telemetry.observe_fhir_query("Condition", "ok", 0.04)
    telemetry.observe_fhir_query("Observation", "timeout", 3.0)
    telemetry.observe_fhir_query(f"Patient/{PATIENT_NAME}", "ok", 0.01)
    telemetry.observe_fhir_query(f"Condition?patient={PATIENT_NAME}", "failed", 0.2)
    telemetry.observe_fhir_query(PATIENT_NAME, "ok", 0.01)
    telemetry.observe_prefetch("patient", "prefetch", known_keys={"patient", "conditions"})
    telemetry.observe_prefetch("conditions", "fhir", known_keys={"patient", "conditions"})
    telemetry.observe_prefetch(PATIENT_NAME, "prefetch", known_keys={"patient", "conditions"})
    after = samples(metered)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("osteocds_fhir_queries_total", resource_type="Condition", outcome="ok") == 1
    assert delta("osteocds_fhir_query_duration_seconds_count", resource_type="Observation",
                 outcome="timeout") == 1
    assert delta("osteocds_fhir_queries_total", resource_type="Patient", outcome="ok") == 1
    assert delta("osteocds_fhir_queries_total", resource_type="Condition", outcome="failed") == 1
    assert delta("osteocds_fhir_queries_total", resource_type="other", outcome="ok") == 1
    assert delta("osteocds_prefetch_keys_total", key="patient", source="prefetch") == 1
    assert delta("osteocds_prefetch_keys_total", key="conditions", source="fhir") == 1
    assert delta("osteocds_prefetch_keys_total", key="other", source="prefetch") == 1
    text = metered.get("/metrics").get_data(as_text=True)
    assert PATIENT_NAME not in text


def test_every_label_value_is_a_short_token(metered):
    post_json(metered, f"/cds-services/{SERVICE}", hook_request("patient-view"))
    for (_, labels), _ in samples(metered).items():
        for _, label_value in labels:
            # route templates such as /preview/static/<path:filename> included (any test order)
            assert re.fullmatch(r"[A-Za-z0-9._/<>:+-]{1,64}|\+Inf|[0-9.e+-]+", label_value), labels


def test_a_hook_call_counts_its_fhir_queries_and_prefetch_sources(make_app, monkeypatch,
                                                                  fhir_server):  # noqa: F811
    """The record layer reports to the metrics: no prefetch -> six fetched keys and their queries;
    full prefetch -> six prefetch hits and no query."""
    monkeypatch.delenv(telemetry.MULTIPROC_ENV, raising=False)
    app = make_app()
    install_metrics(app)
    client = app.test_client()
    as_of = date(2026, 6, 15)
    fhir_server.load(fhir_fixtures.render_transaction("p01", as_of))
    bundle = fhir_fixtures.render_persona("p01", as_of)
    before = samples(client)
    fetched = build_hook_request("patient-view", bundle, prefetch="none",
                                 fhir_server=fhir_server.base_url)
    assert post_json(client, f"/cds-services/{SERVICE}", fetched).status_code == 200
    middle = samples(client)
    assert post_json(client, f"/cds-services/{SERVICE}",
                     build_hook_request("patient-view", bundle)).status_code == 200
    after = samples(client)

    def delta(start, end, name: str, **labels: str) -> float:
        return value(end, name, **labels) - value(start, name, **labels)

    for key in ("patient", "conditions", "medicationStatements", "medicationRequests",
                "medicationAdministrations", "observations"):
        assert delta(before, middle, "osteocds_prefetch_keys_total", key=key, source="fhir") == 1
        assert delta(middle, after, "osteocds_prefetch_keys_total", key=key,
                     source="prefetch") == 1
    for resource_type in ("Patient", "Condition", "Observation", "MedicationRequest"):
        assert delta(before, middle, "osteocds_fhir_queries_total",
                     resource_type=resource_type, outcome="ok") >= 1
    assert delta(middle, after, "osteocds_fhir_queries_total", resource_type="Condition",
                 outcome="ok") == 0
