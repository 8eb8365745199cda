"""Who may use the preview page, and which patients and FHIR servers it may reach.

Development profile: always on; any FHIR server URL and an optional bearer token may be typed in.
Production profile: off unless `OSTEOCDS_PREVIEW_ENABLED=true`, and then only fixture personas and
the FHIR servers the trusted issuers list (`fhir_servers` in the issuers file), reached by the
server; no token is ever accepted from the page and no other URL is ever fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.errors import InvalidRequest
from service.security.issuers import load_trusted_issuers
from service.security.urls import normalise_base_url


@dataclass(frozen=True)
class PreviewPolicy:
    """What this deployment lets the preview page do."""

    enabled: bool
    development: bool
    allowed_fhir_servers: tuple[str, ...] = ()

    @property
    def free_fhir_server(self) -> bool:
        """Any FHIR server URL may be typed in (development only)."""
        return self.development

    @property
    def allow_token(self) -> bool:
        """A bearer token for the FHIR server may be typed in (development only)."""
        return self.development

    def check_fhir_server(self, url: str) -> str:
        """The FHIR base URL to use, or InvalidRequest when this deployment may not reach it."""
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest("fhirServer must be an http(s) URL")
        if self.development:
            return url.rstrip("/")
        wanted = normalise_base_url(url)
        for listed in self.allowed_fhir_servers:
            if normalise_base_url(listed) == wanted:
                return listed.rstrip("/")
        raise InvalidRequest("fhirServer is not one of the trusted issuers' FHIR servers")


def policy_for(settings: Settings) -> PreviewPolicy:
    """The preview policy for these settings (reads the issuers file in production)."""
    if settings.is_development:
        return PreviewPolicy(enabled=True, development=True)
    if not settings.preview_enabled:
        return PreviewPolicy(enabled=False, development=False)
    return PreviewPolicy(
        enabled=True, development=False, allowed_fhir_servers=_issuer_fhir_servers(settings)
    )


def _issuer_fhir_servers(settings: Settings) -> tuple[str, ...]:
    """Every `fhir_servers` entry of the issuers file, validated by the security layer's loader."""
    path = settings.trusted_issuers_file
    if path is None:
        return ()
    issuers = load_trusted_issuers(path)  # raises ConfigurationError on a malformed file
    return tuple(dict.fromkeys(server for issuer in issuers for server in issuer.fhir_servers))
