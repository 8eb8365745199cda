"""`GET /metrics` in the Prometheus text format, and the HTTP request metrics.

`install_metrics(app, settings)` (one line in `create_app`) counts every request by endpoint, CDS
service and status, times it, counts the cards of each service response, and serves `/metrics`
(no token needed; keep it on the internal network: the production proxy example answers 404 for it).

Under gunicorn the counts add up across workers when `PROMETHEUS_MULTIPROC_DIR` is set:
`osteocds serve` calls `prepare_multiprocess_dir()` in the master before the workers fork.
Metric definitions and the functions other layers call (`observe_fhir_query`, `observe_prefetch`,
`observe_cards`) live in `service.telemetry`, re-exported here.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from service.config import Settings
from service.protocol.logging import request_seconds, start_request_clock
from service.telemetry import (
    metrics,
    multiprocess_dir,
    observe_cards,
    observe_fhir_query,
    observe_prefetch,
    observe_request,
    prepare_multiprocess_dir,
)

__all__ = [
    "install_metrics",
    "observe_cards",
    "observe_fhir_query",
    "observe_prefetch",
    "prepare_multiprocess_dir",
    "render_metrics",
]

METRICS_PATH = "/metrics"
ANSWERED_CARDS = "osteocds_answered_cards"  # flask.g attribute: the cards a service call answered
_EXTENSION_KEY = "osteocds-metrics"
_SERVICE_IDS_KEY = "osteocds-metrics-service-ids"
_ENDPOINTS = {
    "/cds-services": "discovery",
    "/cds-services/<service_id>": "service",
    "/cds-services/<service_id>/feedback": "feedback",
}


def install_metrics(app: Flask, settings: Settings | None = None) -> None:
    """Serve `GET /metrics` and record request metrics for `app`. The request is timed from the
    first before-request hook that starts the shared clock (`start_request_clock`: the request
    logging's, ahead of authentication, in `create_app`), so a 401 is timed too."""
    if app.extensions.get(_EXTENSION_KEY):
        return
    app.extensions[_EXTENSION_KEY] = True
    metrics()  # created now, so /metrics lists every family from the first scrape
    app.before_request_funcs.setdefault(None, []).insert(0, start_request_clock)
    app.after_request(_record_request)
    app.add_url_rule(METRICS_PATH, "metrics", _serve_metrics, methods=["GET"])


def _record_request(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else None
    endpoint = _ENDPOINTS.get(rule or "", rule or "unmatched")
    service = _service_label(endpoint)
    observe_request(endpoint, service, response.status_code, request_seconds())
    cards = g.get(ANSWERED_CARDS)  # set by the service route (`call_service`) once it answers
    if endpoint == "service" and response.status_code == 200 and cards is not None:
        observe_cards(service, cards)
    return response


def _service_label(endpoint: str) -> str:
    """The CDS service id for service and feedback calls, only when it is one the app serves."""
    if endpoint not in ("service", "feedback"):
        return "-"
    service_id = (request.view_args or {}).get("service_id")
    return service_id if service_id in _known_service_ids() else "unknown"


def _known_service_ids() -> frozenset[str]:
    """The app's service ids, read from its registry once (it does not change after start-up)."""
    from service.protocol.state import protocol_state

    known = current_app.extensions.get(_SERVICE_IDS_KEY)
    if known is None:
        try:
            known = frozenset(definition.id for definition in protocol_state().registry)
        except (KeyError, RuntimeError):
            return frozenset()  # no registry (yet): ask again next time
        current_app.extensions[_SERVICE_IDS_KEY] = known
    return known  # type: ignore[no-any-return]


def render_metrics() -> tuple[bytes, str]:
    """The exposition text (summed over every worker in multiprocess mode) and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _serve_metrics() -> Response:
    body, content_type = render_metrics()
    response = Response(body, mimetype=None, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
