"""The preview blueprint: the page and its server-side JSON routes.

- `GET /preview`: the page (server-rendered HTML, one small script, no external resources)
- `GET /preview/api/personas`: fixture personas, id and one-line summary
- `GET /preview/api/orders`: the draft orders the page can place (RxNorm from the knowledge data)
- `POST /preview/api/request`: the CDS Hooks request an EHR would send, plus the key data
- `POST /preview/api/render`: card detail Markdown -> sanitized HTML
- `POST /preview/api/fire`: production only: build the request server-side, call the service
  in-process
- `POST /preview/api/feedback/<service_id>`: CDS Hooks feedback, stored with source 'preview'

In the development profile the page itself POSTs the built request to `/cds-services/<id>`,
exactly as an EHR would. In production that endpoint needs a CDS client's JWT, which a page must
never hold, so the page goes through `fire`, which never accepts a request body from the page, only
the form choices: nothing but fixture personas and the issuers' FHIR servers can be reached.
Feedback always goes through the preview route so that it is stored tagged 'preview' and left out
of `feedback-report` by default.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from service.errors import CdsError, InvalidRequest
from service.preview import builder
from service.preview.access import PreviewPolicy
from service.preview.markdown import render_markdown
from service.protocol.errors import cds_error_response
from service.protocol.routes import accept_feedback
from service.protocol.state import protocol_state

blueprint = Blueprint(
    "preview",
    __name__,
    url_prefix="/preview",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

MAX_MARKDOWN_ITEMS = 100
MAX_MARKDOWN_CHARS = 100_000


def _policy() -> PreviewPolicy:
    return current_app.extensions["osteocds.preview"]["policy"]


def _settings() -> Any:
    return current_app.extensions["osteocds.preview"]["settings"]


def root_redirect() -> Response:
    """`GET /` in the development profile: the preview page."""
    return redirect(url_for("preview.page"))


@blueprint.get("")
def page() -> str:
    """The preview page."""
    policy = _policy()
    options = {
        "development": policy.development,
        "personas": builder.persona_options(),
        "orders": builder.order_options(),
        "hooks": builder.hook_options(),
        "fhir_servers": policy.allowed_fhir_servers,
        "free_fhir_server": policy.free_fhir_server,
        "allow_token": policy.allow_token,
    }
    page_config = {
        "buildUrl": url_for("preview.build_request"),
        "renderUrl": url_for("preview.render"),
        "fireUrl": url_for("preview.fire"),
        "serverSideFire": not policy.development,
        "feedbackUrlTemplate": _feedback_url_template(),
    }
    return render_template("preview/index.html", options=options, page_config=page_config)


def _feedback_url_template() -> str:
    return url_for("preview.feedback", service_id="__SERVICE__")


@blueprint.get("/api/personas")
def personas() -> Response:
    """Fixture personas: `{"personas": [{"id", "label"}]}`."""
    return jsonify({"personas": builder.persona_options()})


@blueprint.get("/api/orders")
def orders() -> Response:
    """Draft orders the page can place: `{"orders": [{"id", "label", "coding"}]}`."""
    return jsonify({"orders": builder.order_options()})


@blueprint.post("/api/request")
def build_request() -> Response:
    """Build the CDS Hooks request for the page's choices; return it with the patient key data."""
    try:
        built = builder.build(_json_object(), _policy(), _settings())
    except CdsError as error:
        return _error(error)
    policy = _policy()
    endpoint = (
        f"/cds-services/{built.service_id}" if policy.development else url_for("preview.fire")
    )
    return jsonify(
        {
            "serviceId": built.service_id,
            "endpoint": endpoint,
            "request": built.request,
            "keyData": built.key_data,
        }
    )


@blueprint.post("/api/render")
def render() -> Response:
    """`{"markdown": [str, ...]}` -> `{"html": [str, ...]}`, sanitized."""
    body = _json_object()
    items = body.get("markdown")
    if not isinstance(items, list) or len(items) > MAX_MARKDOWN_ITEMS:
        return _error(InvalidRequest(f"markdown must be a list of at most {MAX_MARKDOWN_ITEMS}"))
    if not all(isinstance(item, str) for item in items):
        return _error(InvalidRequest("markdown items must be strings"))
    if sum(len(item) for item in items) > MAX_MARKDOWN_CHARS:
        return _error(InvalidRequest("markdown is too long"))
    return jsonify({"html": [render_markdown(item) if item else "" for item in items]})


@blueprint.post("/api/fire")
def fire() -> Response:
    """Production: rebuild the request from the form choices and call the service in-process."""
    if _policy().development:
        return _error(InvalidRequest("in development the page calls /cds-services directly"))
    try:
        built = builder.build(_json_object(), _policy(), _settings())
    except CdsError as error:
        return _error(error)
    return builder.dispatch_in_process(f"/cds-services/{built.service_id}", built.request)


@blueprint.post("/api/feedback/<service_id>")
def feedback(service_id: str) -> Response:
    """The page's CDS Hooks feedback, stored by the protocol layer with source 'preview'.

    The body is a CDS Hooks 2.0 feedback request (validated by the protocol's own schema); it is
    stored like any other feedback but tagged so `feedback-report` leaves it out by default.
    """
    definition = protocol_state().registry.get(service_id)  # UnknownService: 404
    receipt = accept_feedback(definition.id, _json_object(), source="preview")
    return jsonify({"recorded": receipt.recorded, "duplicates": receipt.duplicates})


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _error(error: CdsError) -> Response:
    """The project's one error shape: an OperationOutcome with the error's status."""
    return cds_error_response(error)


@blueprint.errorhandler(CdsError)
def _cds_error(error: CdsError) -> Response:
    return _error(error)
