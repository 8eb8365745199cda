"""Internal errors and the one map from each to an HTTP status.

Layers below the protocol raise these; only `service.protocol` turns them into responses (the
FHIR issue type of each class is `service.protocol.errors.ISSUE_TYPES`).
Messages must never contain a bearer token or patient data.
"""

from __future__ import annotations

from typing import ClassVar


class CdsError(Exception):
    """Base of every error the service answers deliberately."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(CdsError):
    status = 400


class ForeignPatientData(CdsError):
    """A resource in prefetch or on the server belongs to another patient than context.patientId."""

    status = 400


class RequestLimitExceeded(CdsError):
    """Body nesting, entry counts or other hostile-input limits."""

    status = 400


class Unauthorized(CdsError):
    status = 401


class Forbidden(CdsError):
    status = 403


class UnknownService(CdsError):
    status = 404


class PayloadTooLarge(CdsError):
    status = 413


class UnsupportedMediaType(CdsError):
    status = 415


class DataUnavailable(CdsError):
    """The FHIR data the service needs could not be obtained (CDS Hooks 2.0: 412)."""

    status = 412


class ConfigurationError(Exception):
    """Start-up configuration or knowledge data is invalid; the service must not start."""
