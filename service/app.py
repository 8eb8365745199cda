"""The Flask application factory.

`create_app(settings=None, *, card_producers=None)` validates the configuration, loads the clinical
knowledge and the JSON Schemas, opens (and migrates) the store, and registers the CDS Hooks routes,
CORS and the OperationOutcome error handlers. A bad configuration raises `ConfigurationError`
before anything is served, a store that cannot be used `StoreUnavailable` (the commands report
both in one line, exit status 2).

A store that becomes unavailable while serving (`StoreUnavailable`: the JWT replay write of every
call, feedback) is answered 503 with an OperationOutcome of issue type `transient` and
`Retry-After`; the store logs the cause once, not once per call.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response

from service.clinical import produce_cards
from service.config import Settings
from service.errors import ConfigurationError
from service.hooks import CardProducer
from service.knowledge import load_knowledge
from service.preview import init_app as install_preview
from service.protocol import validation
from service.protocol.auth import install_security
from service.protocol.cors import install_cors
from service.protocol.errors import error_response, register_error_handlers
from service.protocol.flask_app import ServiceFlask
from service.protocol.json_provider import OrjsonProvider
from service.protocol.metrics import install_metrics
from service.protocol.routes import blueprint, health
from service.protocol.services import ServiceRegistry, build_service_definitions
from service.protocol.state import EXTENSION_KEY, ProtocolState
from service.record.queries import service_templates
from service.store import StoreUnavailable, open_store

STORE_RETRY_AFTER_SECONDS = 5


def create_app(
    settings: Settings | None = None,
    *,
    card_producers: Sequence[CardProducer] | None = None,
) -> Flask:
    """A configured osteocds Flask app.

    `card_producers` default to `[service.clinical.produce_cards]`; tests pass their own.
    """
    settings = settings or Settings()
    check_settings(settings)
    validation.compile_all()
    knowledge = load_knowledge()
    templates = service_templates(knowledge)
    registry = ServiceRegistry(build_service_definitions(templates))
    store = open_store(settings)
    store.migrate()
    store.close()  # reconnect lazily: no connection crosses a gunicorn fork

    app = ServiceFlask(__name__)
    app.json = OrjsonProvider(app)
    # One byte of slack: a streamed (chunked) body is cut at this length, so reading
    # max_body_bytes + 1 bytes is how the body reader tells "too large" apart (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.extensions[EXTENSION_KEY] = ProtocolState(
        settings=settings,
        registry=registry,
        store=store,
        knowledge=knowledge,
        templates=templates,
        card_producers=tuple(card_producers or (produce_cards,)),
    )
    register_error_handlers(app)
    app.register_error_handler(StoreUnavailable, store_unavailable_response)
    install_metrics(app, settings)  # GET /metrics; request, card, FHIR and prefetch metrics
    install_cors(app, settings)
    install_security(app, settings, store)  # JWT auth, input limits, request logs
    app.register_blueprint(health)
    app.register_blueprint(blueprint)
    install_preview(app, settings)  # card preview page: dev, or OSTEOCDS_PREVIEW_ENABLED
    return app


def store_unavailable_response(error: StoreUnavailable) -> Response:
    """503 `transient`: the EHR may retry. Not logged here: the store logs each cause once."""
    response = error_response(
        503, "transient", "The feedback store is unavailable; try again shortly.")
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return response


def check_settings(settings: Settings) -> None:
    """Refuse configurations the service must not start with (`ConfigurationError`)."""
    if settings.is_development:
        return
    if settings.dev_as_of is not None:
        raise ConfigurationError(
            "OSTEOCDS_DEV_AS_OF (a clock override) is only allowed in the development profile."
        )
    missing = [
        name
        for name, value in (
            ("OSTEOCDS_TRUSTED_ISSUERS_FILE", settings.trusted_issuers_file),
            ("OSTEOCDS_PUBLIC_BASE_URL", settings.public_base_url),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            "The production profile verifies every caller's JWT and needs "
            + " and ".join(missing)
            + ". Set them, or run the development profile (--dev or OSTEOCDS_PROFILE=dev)."
        )
