"""Internal errors and the one map from each to an HTTP status.

Layers below the protocol raise these; only `service.protocol` turns them into responses.
Messages must never contain a bearer token or patient data.
"""

from __future__ import annotations

from typing import ClassVar


class CdsError(Exception):
    """Base of every error the service answers deliberately."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(CdsError):
    status, code = 400, "invalid-request"


class ForeignPatientData(CdsError):
    """A resource in prefetch or on the server belongs to another patient than context.patientId."""

    status, code = 400, "foreign-patient-data"


class RequestLimitExceeded(CdsError):
    """Body nesting, entry counts or other hostile-input limits."""

    status, code = 400, "limit-exceeded"


class Unauthorized(CdsError):
    status, code = 401, "unauthorized"


class Forbidden(CdsError):
    status, code = 403, "forbidden"


class UnknownService(CdsError):
    status, code = 404, "unknown-service"


class PayloadTooLarge(CdsError):
    status, code = 413, "payload-too-large"


class UnsupportedMediaType(CdsError):
    status, code = 415, "unsupported-media-type"


class DataUnavailable(CdsError):
    """The FHIR data the service needs could not be obtained (CDS Hooks 2.0: 412)."""

    status, code = 412, "data-unavailable"


class ConfigurationError(Exception):
    """Start-up configuration or knowledge data is invalid; the service must not start."""
