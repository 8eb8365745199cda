"""The FHIR server allowlist: where a CDS client's FHIR access token may be sent."""

from __future__ import annotations

from service.config import Settings
from service.errors import Forbidden, InvalidRequest
from service.security.issuers import IssuerConfig
from service.security.urls import is_secure_url


def check_fhir_server(fhir_server: object, settings: Settings,
                      issuer: IssuerConfig | None) -> None:
    """In production `fhirServer` must be https and one of the FHIR servers the client's issuer
    lists (an issuer listing none may send none): the FHIR access token is sent nowhere else.
    The URL is never echoed."""
    if settings.is_development or not isinstance(fhir_server, str):
        return
    if not is_secure_url(fhir_server, allow_loopback_http=False):
        raise InvalidRequest("fhirServer: must be an https URL", field="fhirServer")
    if issuer is not None and not issuer.allows_fhir_server(fhir_server):
        raise Forbidden("fhirServer: not an allowed FHIR server for this client",
                        field="fhirServer")
