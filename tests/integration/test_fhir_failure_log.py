"""A failed FHIR query leaves its cause for the operator: one WARNING line per query (key,
failure kind, HTTP status; never the URL, the token or the patient id) and the failure kind as
the `outcome` of `osteocds_fhir_queries_total`, while the EHR gets its 412."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from service import telemetry
from service.protocol.logging import JsonFormatter, RedactionFilter, RequestContextFilter
from service.protocol.metrics import install_metrics
from service.record.fhir_client import FailureKind
from service.record.queries import KEY_RESOURCE_TYPES, PREFETCH_KEYS
from tests.conftest import post_json
from tests.integration import fhir_support as support
from tests.integration.fault_server import running_fault_server

pytestmark = pytest.mark.integration

SERVICE = "/cds-services/osteoporosis-patient-view"
PATIENT_ID = "loggedpatient-93817"
TOKEN = "failure-log-secret-token"


@pytest.fixture
def fhir_log() -> Iterator[io.StringIO]:
    """The `osteocds.fhir` lines as the service writes them (JSON, its two filters)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactionFilter())
    logger = logging.getLogger("osteocds.fhir")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@pytest.fixture
def metered(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv(telemetry.MULTIPROC_ENV, raising=False)
    app = make_app(fhir_deadline_seconds=1.0)
    install_metrics(app)
    return app


def query_counts(app: Flask) -> dict[tuple[str, str], float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {(sample.labels["resource_type"], sample.labels["outcome"]): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "osteocds_fhir_queries_total"}


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(("mode", "status", "kind"), [
    ("status-500", "500", FailureKind.SERVER_ERROR),
    ("status-401", "401", FailureKind.UNAUTHORIZED),
    ("garbage", "200", FailureKind.INVALID_RESPONSE),
    ("silent", "-", FailureKind.TIMEOUT),
    ("repeat", "200", FailureKind.PAGING),
])
def test_each_failed_query_logs_one_warning_and_counts_its_kind(
        metered: Flask, fhir_log: io.StringIO, mode: str, status: str,
        kind: FailureKind) -> None:
    before = query_counts(metered)
    with running_fault_server() as server:
        base = f"{server.base}/{mode}"
        request = support.hook_request(PATIENT_ID, fhir_server=base, token=TOKEN)
        response = post_json(metered.test_client(), SERVICE, request,
                             headers={"X-Request-Id": "failure-log-test"})
    assert response.status_code == 412
    entries = [entry for entry in lines(fhir_log) if entry["logger"] == "osteocds.fhir"]
    if mode == "repeat":  # only searches page; the Patient read gets a Bundle: invalid
        entries = [entry for entry in entries if "key=patient " not in entry["message"]]
        keys = set(PREFETCH_KEYS) - {"patient"}
    else:
        keys = set(PREFETCH_KEYS)
    assert len(entries) == len(keys), entries
    assert {entry["message"].split("key=")[1].split()[0] for entry in entries} == keys
    for entry in entries:
        assert entry["level"] == "WARNING"
        assert f" kind={kind.value} status={status} " in entry["message"], entry
        assert entry["reason"] == kind.value
        assert entry["request_id"] == "failure-log-test"
    text = fhir_log.getvalue()
    for secret in (TOKEN, PATIENT_ID, server.base, "127.0.0.1", "http", "?", "[REDACTED"):
        assert secret not in text, secret
    after = query_counts(metered)
    for key in keys:
        label = (KEY_RESOURCE_TYPES[key], kind.value)
        assert after.get(label, 0) - before.get(label, 0) == 1, (label, after)
        assert after.get((KEY_RESOURCE_TYPES[key], "failed"), 0) == before.get(
            (KEY_RESOURCE_TYPES[key], "failed"), 0)


def test_a_patient_not_found_is_logged_as_not_found(metered: Flask,
                                                    fhir_log: io.StringIO) -> None:
    with running_fault_server() as server:  # 404 for everything, /metadata included
        request = support.hook_request(PATIENT_ID, fhir_server=f"{server.base}/nowhere")
        response = post_json(metered.test_client(), SERVICE, request)
    assert response.status_code == 412
    kinds = {entry["message"].split("key=")[1].split()[0]: entry["reason"]
             for entry in lines(fhir_log)}
    assert kinds == {"patient": "not-found", **{key: "client-error" for key in PREFETCH_KEYS
                                                  if key != "patient"}}
    assert PATIENT_ID not in fhir_log.getvalue()


def test_every_failure_kind_is_a_known_metric_outcome() -> None:
    assert {kind.value for kind in FailureKind} <= telemetry.FHIR_OUTCOMES


def test_a_medication_read_is_logged_by_type_without_its_id(fhir_log: io.StringIO) -> None:
    from service.config import Settings
    from service.record.fhir_client import Deadline, FhirClient

    with running_fault_server() as server:
        client = FhirClient(f"{server.base}/status-503", token=TOKEN,
                            settings=Settings(profile="dev"))
        results = client.fetch({"Medication/med-secret-id": "Medication/med-secret-id"},
                               Deadline(1.0))
    assert results["Medication/med-secret-id"].kind == FailureKind.SERVER_ERROR
    (entry,) = lines(fhir_log)
    assert "key=Medication kind=server-error status=503 " in entry["message"]
    assert "med-secret-id" not in fhir_log.getvalue()
