"""Prometheus metrics of osteocds: definitions and the small functions every layer calls.

No Flask here, so the record layer and the card producer can import it without reaching upwards;
`service.protocol.metrics` installs the HTTP side (`GET /metrics`, request counts and latency).

Multiprocess mode: when `PROMETHEUS_MULTIPROC_DIR` is set (the container and `osteocds serve` set
it), each gunicorn worker writes its samples to files there and `GET /metrics` adds them up across
workers.
`prepare_multiprocess_dir()` must run in the gunicorn master before the workers fork.

Labels never carry patient data or free text from requests: every label value is mapped onto a small
fixed set (`_bounded`), so a hostile client cannot invent new series either.

| metric | type | labels |
|---|---|---|
| `osteocds_http_requests_total` | counter | `endpoint`, `service`, `status` |
| `osteocds_http_request_duration_seconds` | histogram | `endpoint`, `service` |
| `osteocds_cards_total` | counter | `service`, `topic`, `indicator` |
| `osteocds_fhir_queries_total` | counter | `resource_type`, `outcome` |
| `osteocds_fhir_query_duration_seconds` | histogram | `resource_type`, `outcome` |
| `osteocds_prefetch_keys_total` | counter | `key`, `source` (`prefetch`, `fhir`, `missing`) |
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

FHIR_RESOURCE_TYPES = frozenset({
    "Patient", "Condition", "Observation", "MedicationStatement", "MedicationRequest",
    "MedicationAdministration", "Procedure", "AllergyIntolerance", "metadata",
})
FHIR_OUTCOMES = frozenset({
    # service.record.fhir_client.FetchOutcome values but "failed" (a failure's kind instead)
    "ok", "unsupported", "not-found",
    # service.record.fhir_client.FailureKind values: why a query failed ("failed": unknown)
    "timeout", "connection-error", "tls-error", "unauthorized", "forbidden", "client-error",
    "server-error", "redirect", "invalid-response", "error-outcome", "too-large", "paging",
    "refused", "failed",
})
PREFETCH_SOURCES = frozenset({"prefetch", "fhir", "missing"})
CARD_INDICATORS = frozenset({"info", "warning", "critical"})
_LABEL_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_lock = threading.Lock()
_metrics: _Metrics | None = None
_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


@dataclass(frozen=True)
class _Metrics:
    requests: Any
    request_seconds: Any
    cards: Any
    fhir_queries: Any
    fhir_query_seconds: Any
    prefetch_keys: Any


def prepare_multiprocess_dir(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """Create (or empty) the multiprocess directory and export `PROMETHEUS_MULTIPROC_DIR`.

    Call it once in the gunicorn master before the workers fork, so counts start at zero on every
    start and add up across workers. An unset variable gets a fresh private temporary directory.
    Only the `*.db` sample files are removed from a directory that already exists.
    """
    configured = environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
    else:
        directory = Path(tempfile.mkdtemp(prefix="osteocds-metrics-"))
        atexit.register(_remove_directory, directory, os.getpid())
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    environ[MULTIPROC_ENV] = str(directory)
    _use_multiprocess_values()
    return directory


def _remove_directory(directory: Path, owner_pid: int) -> None:
    """Remove a directory this process created (forked workers inherit the hook: skip there)."""
    if os.getpid() == owner_pid:
        shutil.rmtree(directory, ignore_errors=True)


def _use_multiprocess_values() -> None:
    """prometheus_client chooses its value class on import: choose again if it came in early."""
    from prometheus_client import values

    if _metrics is None:
        values.ValueClass = values.get_value_class()


def multiprocess_dir() -> Path | None:
    """The multiprocess directory in force, or None (single-process metrics)."""
    configured = os.environ.get(MULTIPROC_ENV)
    return Path(configured) if configured else None


def _build() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        requests=Counter(
            "osteocds_http_requests",
            "HTTP requests answered, by endpoint, CDS service and status.",
            ["endpoint", "service", "status"],
        ),
        request_seconds=Histogram(
            "osteocds_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["endpoint", "service"], buckets=LATENCY_BUCKETS,
        ),
        cards=Counter(
            "osteocds_cards", "CDS cards returned, by service, card topic and indicator.",
            ["service", "topic", "indicator"],
        ),
        fhir_queries=Counter(
            "osteocds_fhir_queries",
            "Queries sent to EHR FHIR servers, by resource type and outcome.",
            ["resource_type", "outcome"],
        ),
        fhir_query_seconds=Histogram(
            "osteocds_fhir_query_duration_seconds", "Time of one FHIR query (all its pages).",
            ["resource_type", "outcome"], buckets=LATENCY_BUCKETS,
        ),
        prefetch_keys=Counter(
            "osteocds_prefetch_keys",
            "Prefetch keys per hook call: sent by the EHR (prefetch), fetched by the service "
            "(fhir), or unavailable (missing).",
            ["key", "source"],
        ),
    )


def metrics() -> _Metrics:
    """The process's metric objects, created on first use (after the multiprocess set-up)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                directory = multiprocess_dir()
                if directory is not None:
                    directory.mkdir(parents=True, exist_ok=True)
                    _use_multiprocess_values()
                _metrics = _build()
    return _metrics


def _child(metric: Any, labels: tuple[str, ...]) -> Any:
    """`metric.labels(*labels)`, remembered: label values come from small fixed sets (`_bounded`),
    and `labels()` costs ~2-3 us a call (validation, a lock), several times per hook call."""
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children.setdefault(key, metric.labels(*labels))
    return child


def _bounded(value: object, allowed: Iterable[str] | None = None) -> str:
    """`value` when it is an expected, harmless label value; `other` otherwise."""
    if not isinstance(value, str) or not _LABEL_TOKEN.match(value):
        return "other"
    if allowed is not None and value not in allowed:
        return "other"
    return value


def observe_fhir_query(resource_type: str, outcome: str, seconds: float) -> None:
    """Count one query to the EHR's FHIR server (record layer). `resource_type` may be the query
    itself (`Condition?patient=...`, `Patient/123`): only its type is kept. `outcome` is one of
    `FHIR_OUTCOMES` (`FetchResult.metric_outcome`: `ok`, `unsupported`, `not-found`, or why the
    query failed: `timeout`, `tls-error`, `server-error`, ...); `seconds` its duration."""
    resource_type = re.split(r"[/?]", str(resource_type), maxsplit=1)[0]
    labels = (_bounded(resource_type, FHIR_RESOURCE_TYPES), _bounded(outcome, FHIR_OUTCOMES))
    current = metrics()
    _child(current.fhir_queries, labels).inc()
    _child(current.fhir_query_seconds, labels).observe(max(seconds, 0.0))


def observe_prefetch(key: str, source: str, known_keys: Iterable[str] | None = None) -> None:
    """Count where one prefetch key's data came from in a hook call (record layer): `prefetch`
    (the EHR sent it: a hit), `fhir` (the service fetched it) or `missing`."""
    labels = (_bounded(key, known_keys), _bounded(source, PREFETCH_SOURCES))
    _child(metrics().prefetch_keys, labels).inc()


def observe_cards(service_id: str, cards: Iterable[Mapping[str, Any]]) -> None:
    """Count the cards of one response by topic (`source.topic.code`, else `none`) and indicator.
    `service.protocol.metrics` calls it for every successful service call."""
    counter = metrics().cards
    for card in cards:
        indicator = _bounded(card.get("indicator"), CARD_INDICATORS)
        _child(counter, (service_id, _card_topic(card), indicator)).inc()


def _card_topic(card: Mapping[str, Any]) -> str:
    source = card.get("source")
    topic = source.get("topic") if isinstance(source, Mapping) else None
    code = topic.get("code") if isinstance(topic, Mapping) else None
    return "none" if code is None else _bounded(code)


def observe_request(endpoint: str, service: str, status: int, seconds: float | None) -> None:
    """Count one HTTP request (called by `service.protocol.metrics` only)."""
    current = metrics()
    _child(current.requests, (endpoint, service, str(status))).inc()
    if seconds is not None:
        _child(current.request_seconds, (endpoint, service)).observe(max(seconds, 0.0))
