"""The one error shape: every non-2xx answer is a FHIR R4 OperationOutcome with one issue.

```
{"resourceType": "OperationOutcome",
 "issue": [{"severity": "error", "code": "<FHIR issue type>", "diagnostics": "<message>",
            "expression": ["<field>"]}]}
```

`ISSUE_TYPES` is the one map from `service.errors` classes to FHIR issue types; the HTTP status
comes from the class itself (`CdsError.status`). Subclasses added later inherit their parent's
entry. Flask/werkzeug HTTP errors (404 route, 405, 413) get the same shape, and anything else is
an opaque 500 whose exception is logged without the request body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from service import errors

logger = logging.getLogger(__name__)

# FHIR R4 issue types: http://hl7.org/fhir/R4/valueset-issue-type.html
ISSUE_TYPES: Mapping[type[errors.CdsError], str] = {
    errors.CdsError: "exception",
    errors.InvalidRequest: "invalid",
    errors.ForeignPatientData: "business-rule",
    errors.RequestLimitExceeded: "too-costly",
    errors.Unauthorized: "login",
    errors.Forbidden: "forbidden",
    errors.UnknownService: "not-found",
    errors.PayloadTooLarge: "too-long",
    errors.UnsupportedMediaType: "not-supported",
    errors.DataUnavailable: "incomplete",
}

_HTTP_ISSUE_TYPES: Mapping[int, str] = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}

_HTTP_MESSAGES: Mapping[int, str] = {
    400: "The request is malformed.",
    404: "No such endpoint.",
    405: "Method not allowed on this endpoint.",
    413: "The request body is larger than the configured limit.",
    415: "The request body must be JSON (Content-Type: application/json).",
}


def issue_type_for(error_class: type[errors.CdsError]) -> str:
    """The FHIR issue type of an error class (its nearest ancestor in `ISSUE_TYPES`)."""
    for klass in error_class.__mro__:
        if klass in ISSUE_TYPES:
            return ISSUE_TYPES[klass]  # type: ignore[index]
    return "exception"


def operation_outcome(code: str, diagnostics: str, field: str | None = None) -> dict[str, Any]:
    """An OperationOutcome body with one error issue; `field` becomes `expression`."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if field:
        issue["expression"] = [field]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(
    status: int, code: str, diagnostics: str, field: str | None = None
) -> Response:
    """A JSON OperationOutcome response with `status`."""
    response = jsonify(operation_outcome(code, diagnostics, field))
    response.status_code = status
    return response


def cds_error_response(error: errors.CdsError) -> Response:
    """The response for a deliberate `CdsError` (status and issue type from the one map)."""
    return error_response(error.status, issue_type_for(type(error)), error.message, error.field)


def _handle_cds_error(error: errors.CdsError) -> Response:
    if error.status >= 500:
        logger.error("%s on %s %s", type(error).__name__, request.method, request.path)
    return cds_error_response(error)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code = _HTTP_ISSUE_TYPES.get(status, "exception" if status >= 500 else "invalid")
    message = _HTTP_MESSAGES.get(status) or error.name or "Error."
    response = error_response(status, code, message)
    if status == 405 and isinstance(error, HTTPException):
        allow = error.get_headers()
        for name, value in allow:
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_exception(error)
    # The traceback is logged; the request body never is (it holds patient data and tokens).
    logger.error(
        "unhandled %s on %s %s", type(error).__name__, request.method, request.path,
        exc_info=error,
    )
    return error_response(500, "exception", "Internal error; the service log has the details.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that turn every error into an OperationOutcome."""
    app.register_error_handler(errors.CdsError, _handle_cds_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
