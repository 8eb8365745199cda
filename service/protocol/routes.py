"""The CDS Hooks 2.0 endpoints: discovery, service calls, feedback; plus health probes.

| method, path                           | answer                                            |
|----------------------------------------|---------------------------------------------------|
| GET  /cds-services                     | discovery (three services, six prefetch keys)     |
| POST /cds-services/<id>                | `{"cards": [...]}`                                |
| POST /cds-services/<id>/feedback       | `{"recorded": n, "duplicates": m}` once stored    |
| GET  /healthz, GET /readyz             | liveness; readiness (knowledge loaded, store up)  |

Every error is an OperationOutcome (`service.protocol.errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, g, jsonify

from service.errors import InvalidRequest
from service.hooks import run_hook
from service.protocol import validation
from service.protocol.body import read_json_object
from service.protocol.errors import error_response
from service.protocol.metrics import ANSWERED_CARDS
from service.protocol.state import protocol_state
from service.store import FeedbackEntry, FeedbackReceipt, StoreUnavailable

logger = logging.getLogger(__name__)

blueprint = Blueprint("cds", __name__)

FEEDBACK_SCHEMA = "feedback-request"


@blueprint.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks 2.0 discovery."""
    return jsonify(protocol_state().registry.discovery())


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """Validate the hook request, gather the record, run the card producers."""
    state = protocol_state()
    definition = state.registry.get(service_id)
    body = read_json_object(state.settings.max_body_bytes)
    require_hook(body, definition.hook)
    validation.require_valid(validation.HOOK_REQUEST_SCHEMAS[definition.hook], body)
    response = run_hook(
        service_id=definition.id,
        hook=definition.hook,
        body=body,
        settings=state.settings,
        knowledge=state.knowledge,
        templates=state.templates,
        card_producers=state.card_producers,
    )
    _remember_issued_cards(definition.id, response["cards"])
    setattr(g, ANSWERED_CARDS, response["cards"])  # counted by the metrics hook
    return jsonify(response)


@blueprint.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    """Store CDS Hooks 2.0 feedback; 200 only once every item is durably recorded."""
    state = protocol_state()
    definition = state.registry.get(service_id)
    body = read_json_object(state.settings.max_body_bytes)
    receipt = accept_feedback(definition.id, body)
    return jsonify({"recorded": receipt.recorded, "duplicates": receipt.duplicates})


def accept_feedback(
    service_id: str, body: Mapping[str, Any], *, source: str = "ehr"
) -> FeedbackReceipt:
    """Validate a feedback body and store it (idempotent); `source="preview"` for the preview page.

    Raises `InvalidRequest` (400) on a malformed body; `service_id` must be a known service id.
    """
    validation.require_valid(FEEDBACK_SCHEMA, body)
    entries = [FeedbackEntry.from_json(item) for item in body["feedback"]]
    return protocol_state().store.record_feedback(service_id, entries, source=source)


def require_hook(body: Mapping[str, Any], expected: str) -> None:
    """`hook` must be present and name the service's hook (400 otherwise)."""
    hook = body.get("hook")
    if not isinstance(hook, str) or not hook:
        raise InvalidRequest("hook: is required", field="hook")
    if hook != expected:
        # The value sent is not echoed: error bodies reach EHR logs and screens.
        raise InvalidRequest(f"hook: this service answers '{expected}' only", field="hook")


def _remember_issued_cards(service_id: str, cards: list[dict[str, Any]]) -> None:
    if not cards:
        return
    try:
        protocol_state().store.queue_issued_cards(service_id, cards)
    except StoreUnavailable:
        pass  # the store logged its cause once; the cards are still worth answering
    except Exception:
        # The cards are still worth answering; /readyz reports a broken store.
        logger.exception("could not record issued cards for %s", service_id)


health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Touches no database: a database outage must not get the
    process restarted (readiness takes it out of the load balancer instead)."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz() -> Response:
    """Readiness: knowledge loaded, the store's schema at the version this release needs and
    the store writable, within 1.5-2.5 s (`Store.ping`); 503 otherwise."""
    state = protocol_state()
    try:
        state.store.ping()
    except StoreUnavailable as error:  # logged once by the store; its cause is a fixed phrase
        return error_response(503, "transient", f"The feedback store is unavailable "
                                                f"({error.cause}).")
    except Exception:
        logger.exception("readiness: store unreachable")
        return error_response(503, "transient", "The feedback store is unreachable.")
    if state.knowledge is None:
        return error_response(503, "transient", "The clinical knowledge is not loaded.")
    body: dict[str, Any] = {"status": "ready", "store": state.store.dialect}
    version = getattr(state.knowledge, "version", None)
    if version:
        body["knowledgeVersion"] = version
    return jsonify(body)
