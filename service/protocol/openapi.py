"""`GET /openapi.json`: an OpenAPI 3.1 document generated from the JSON Schemas the service
validates with (`service/schemas/`), so request and response bodies are typed exactly as enforced.

Each schema file becomes `components/schemas/<file stem>`; its `$ref`s (`#/$defs/...` and
`urn:osteocds:schema:<stem>#/...`) are rewritten to point inside the document. Each CDS service gets
its own path with the request schema of its hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, jsonify

from service.protocol.services import ServiceDefinition
from service.protocol.state import protocol_state
from service.protocol.validation import (
    HOOK_REQUEST_SCHEMAS,
    SCHEMA_ID_PREFIX,
    load_schema_documents,
)

OPENAPI_EXTENSION_KEY = "osteocds.openapi"
_COMPONENTS = "#/components/schemas/"
_OUTCOME = {"$ref": _COMPONENTS + "operation-outcome"}
_ERROR_TEXTS = {
    "400": "Malformed or invalid request, or a hostile-input limit exceeded (OperationOutcome).",
    "401": "Missing or invalid client JWT (opaque OperationOutcome).",
    "403": "fhirServer is not allowed for this client.",
    "404": "No CDS service with this id.",
    "412": "The FHIR data needed could not be obtained (CDS Hooks 2.0).",
    "413": "Request body larger than the configured limit.",
    "415": "Request body is not JSON.",
    "503": "The feedback store (JWT replay, feedback) is unavailable; retry (Retry-After).",
}


def rewrite_refs(node: Any, stem: str) -> Any:
    """`node` with every `$ref` pointing into `components/schemas` (and `$id`/`$schema` dropped)."""
    if isinstance(node, dict):
        rewritten: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(value, str):
                rewritten[key] = _rewrite_ref(value, stem)
            else:
                rewritten[key] = rewrite_refs(value, stem)
        return rewritten
    if isinstance(node, list):
        return [rewrite_refs(item, stem) for item in node]
    return node


def _rewrite_ref(ref: str, stem: str) -> str:
    if ref.startswith("#"):
        return f"{_COMPONENTS}{stem}{ref[1:]}"
    if ref.startswith(SCHEMA_ID_PREFIX):
        target, _, pointer = ref.removeprefix(SCHEMA_ID_PREFIX).partition("#")
        return f"{_COMPONENTS}{target}{pointer}"
    raise ValueError(f"schema {stem}: unsupported $ref {ref!r}")


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok_schema: dict[str, Any], ok_text: str, errors: Iterable[str]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": ok_text, **_json_body(ok_schema)}}
    for status in errors:
        responses[status] = {"description": _ERROR_TEXTS[status], **_json_body(_OUTCOME)}
    return responses


def _service_path(definition: ServiceDefinition) -> dict[str, Any]:
    request_schema = {"$ref": _COMPONENTS + HOOK_REQUEST_SCHEMAS[definition.hook]}
    return {"post": {
        "operationId": f"call-{definition.id}",
        "summary": definition.title,
        "description": definition.description,
        "requestBody": {"required": True, **_json_body(request_schema)},
        "responses": _responses({"$ref": _COMPONENTS + "service-response"}, "Cards",
                                ["400", "401", "403", "412", "413", "415", "503"]),
    }}


def _feedback_path(definition: ServiceDefinition) -> dict[str, Any]:
    receipt = {"type": "object", "required": ["recorded", "duplicates"],
               "properties": {"recorded": {"type": "integer", "minimum": 0},
                              "duplicates": {"type": "integer", "minimum": 0}}}
    return {"post": {
        "operationId": f"feedback-{definition.id}",
        "summary": f"Feedback on the cards of {definition.id}",
        "requestBody": {"required": True,
                        **_json_body({"$ref": _COMPONENTS + "feedback-request"})},
        "responses": _responses(receipt, "Feedback recorded",
                                ["400", "401", "413", "415", "503"]),
    }}


def _health_path(operation_id: str, text: str) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "summary": text, "security": [],
                    "responses": {"200": {"description": text, **_json_body({"type": "object"})},
                                  "503": {"description": "Not ready", **_json_body(_OUTCOME)}}}}


def build_openapi(services: Iterable[ServiceDefinition], *, server_url: str | None = None,
                  token_required: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these services (a token is optional in development)."""
    schemas = {stem: rewrite_refs(doc, stem) for stem, doc in
               sorted(load_schema_documents().items())}
    paths: dict[str, Any] = {"/cds-services": {"get": {
        "operationId": "discovery", "summary": "CDS Hooks 2.0 discovery",
        "responses": _responses({"$ref": _COMPONENTS + "discovery-response"}, "Services",
                                ["401"]),
    }}}
    for definition in services:
        paths[f"/cds-services/{definition.id}"] = _service_path(definition)
        paths[f"/cds-services/{definition.id}/feedback"] = _feedback_path(definition)
    paths["/healthz"] = _health_path("healthz", "Liveness")
    paths["/readyz"] = _health_path("readyz", "Readiness")
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "osteocds CDS Hooks 2.0 service", "version": "2.0",
                 "description": "Generated from the JSON Schemas the service validates with."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"clientIssuedJwt": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "CDS Hooks 2.0 'Trusting CDS Clients': aud = the URL called.",
            }},
        },
        "security": [{"clientIssuedJwt": []}] if token_required else [{"clientIssuedJwt": []}, {}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def install_openapi(app: Flask, public_base_url: str | None, *, token_required: bool) -> None:
    """Serve the document at `GET /openapi.json` (no token needed)."""
    app.extensions[OPENAPI_EXTENSION_KEY] = (public_base_url, token_required)
    app.add_url_rule("/openapi.json", "openapi", _openapi_view, methods=["GET"])


def _openapi_view() -> Response:
    cache_key = OPENAPI_EXTENSION_KEY + ".document"
    document = current_app.extensions.get(cache_key)
    if document is None:
        server_url, token_required = current_app.extensions[OPENAPI_EXTENSION_KEY]
        document = build_openapi(protocol_state().registry, server_url=server_url,
                                 token_required=token_required)
        current_app.extensions[cache_key] = document
    return jsonify(document)
