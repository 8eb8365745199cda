"""Client authentication for every CDS Hooks endpoint (CDS Hooks 2.0 "Trusting CDS Clients").

`install_auth(app, settings, replay_store)` adds a `before_request` hook that runs FIRST, before any
hook reads the body, so an unauthenticated POST is 401 whatever it carries.

- Production: `Authorization: Bearer <JWT>` is required on discovery, service and feedback calls;
  the token is verified by `service.security.jwt_verifier` with `aud` = OSTEOCDS_PUBLIC_BASE_URL
  (no trailing slash) + the request path (never the Host header, so it works behind a proxy).
- Development: no token is needed; a token that is present is verified; the CDS Hooks Sandbox's
  public key (shipped copy) is trusted for issuer https://sandbox.cds-hooks.org.
- `PUBLIC_PATHS` and CORS preflights (`OPTIONS`) need no token.

On success `flask.g.cds_client` is the `VerifiedClient` and `flask.g.trusted_issuer` its
`IssuerConfig` (None when no token was given in development): the record layer reads
`trusted_issuer.fhir_servers` from there. Failures are 401 with `WWW-Authenticate: Bearer` and an
opaque OperationOutcome; the reason is logged as a fixed code, the token never.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request

from service.config import Settings
from service.errors import ConfigurationError
from service.protocol.errors import error_response
from service.protocol.limits import install_limits
from service.protocol.logging import install_request_logging
from service.protocol.openapi import install_openapi
from service.security.issuers import (
    TrustedIssuers,
    load_trusted_issuers,
    sandbox_issuer,
)
from service.security.jwks import JwksCache
from service.security.jwt_verifier import (
    JwtVerifier,
    ReplayStore,
    TokenRejected,
    expected_audience,
)
from service.security.urls import is_loopback_host, split_url

logger = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/metrics"})
PREVIEW_PREFIXES = ("/preview",)
EXTENSION_KEY = "osteocds.auth"
_CHALLENGE = 'Bearer realm="osteocds"'


@dataclass(frozen=True)
class AuthPolicy:
    """What `install_auth` decided at start-up."""

    verifier: JwtVerifier
    token_required: bool
    public_base_url: str | None
    preview_public: bool


def check_public_base_url(settings: Settings) -> str | None:
    """OSTEOCDS_PUBLIC_BASE_URL without its trailing slash; ConfigurationError when unusable."""
    url = settings.public_base_url
    if url is None:
        if not settings.is_development:
            raise ConfigurationError(
                "OSTEOCDS_PUBLIC_BASE_URL is required in production: every token's `aud` is "
                "checked against it"
            )
        return None
    parts = split_url(url)
    if parts is None or parts.query or parts.fragment:
        raise ConfigurationError(
            "OSTEOCDS_PUBLIC_BASE_URL: must be an absolute http(s) URL without query or fragment"
        )
    if parts.scheme != "https" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            "OSTEOCDS_PUBLIC_BASE_URL: must be https (plain http only for loopback hosts)"
        )
    return url.rstrip("/")


def build_trusted_issuers(settings: Settings) -> TrustedIssuers:
    """The issuers file (required in production), plus the CDS Hooks Sandbox in development."""
    if settings.trusted_issuers_file is None:
        if not settings.is_development:
            raise ConfigurationError(
                "OSTEOCDS_TRUSTED_ISSUERS_FILE is required in production (the CDS clients to trust)"
            )
        issuers = TrustedIssuers([])
    else:
        issuers = load_trusted_issuers(settings.trusted_issuers_file)
    if settings.is_development:
        issuers = issuers.with_issuer(sandbox_issuer())
    return issuers


def build_verifier(settings: Settings, replay_store: ReplayStore, *,
                   jwks_cache: JwksCache | None = None,
                   clock: Callable[[], float] | None = None) -> JwtVerifier:
    """A verifier configured from settings (algorithms, leeway, lifetime, JWKS cache)."""
    cache = jwks_cache or JwksCache(ttl=settings.jwks_cache_seconds,
                                    timeout=settings.jwks_fetch_timeout_seconds)
    extra = {"clock": clock} if clock is not None else {}
    return JwtVerifier(
        build_trusted_issuers(settings), replay_store,
        algorithms=settings.jwt_algorithms, leeway=settings.jwt_leeway_seconds,
        max_lifetime=settings.jwt_max_lifetime_seconds, jwks_cache=cache, **extra,
    )


def install_security(app: Flask, settings: Settings, replay_store: ReplayStore, *,
                     jwks_cache: JwksCache | None = None,
                     clock: Callable[[], float] | None = None) -> AuthPolicy:
    """Everything create_app needs from the security layer, in the right order: request ids and
    access logs, then authentication (before any body is read), then the hostile-input limits;
    and `GET /openapi.json`."""
    policy = install_auth(app, settings, replay_store, jwks_cache=jwks_cache, clock=clock)
    install_limits(app, settings)
    install_openapi(app, policy.public_base_url, token_required=policy.token_required)
    install_request_logging(app)  # inserted first: even a 401 carries a request id
    return policy


def install_auth(app: Flask, settings: Settings, replay_store: ReplayStore, *,
                 jwks_cache: JwksCache | None = None,
                 clock: Callable[[], float] | None = None) -> AuthPolicy:
    """Check the configuration (ConfigurationError stops start-up) and guard every endpoint."""
    policy = AuthPolicy(
        verifier=build_verifier(settings, replay_store, jwks_cache=jwks_cache, clock=clock),
        token_required=not settings.is_development,
        public_base_url=check_public_base_url(settings),
        preview_public=settings.is_development or settings.preview_enabled,
    )
    app.extensions[EXTENSION_KEY] = policy
    # First of all before_request hooks: nothing may read the body of an unauthenticated call.
    app.before_request_funcs.setdefault(None, []).insert(0, _authenticate)
    return policy


def needs_token(path: str, method: str, policy: AuthPolicy) -> bool:
    """Whether `method path` is a guarded endpoint (everything but health, docs, preflights)."""
    if method == "OPTIONS" or path in PUBLIC_PATHS:
        return False
    is_preview = path == "/" or path.startswith(PREVIEW_PREFIXES)
    return not (policy.preview_public and is_preview)


def _authenticate() -> Response | None:
    policy: AuthPolicy = current_app.extensions[EXTENSION_KEY]
    g.cds_client = None
    g.trusted_issuer = None
    if not needs_token(request.path, request.method, policy):
        return None
    header = request.headers.get("Authorization")
    if header is None and not policy.token_required:
        return None
    token = _bearer_token(header)
    if token is None:
        return _unauthorized("missing-bearer-token")
    audience = expected_audience(policy.public_base_url or request.host_url, request.path)
    try:
        client = policy.verifier.verify(token, audience)
    except TokenRejected as rejection:
        return _unauthorized(rejection.reason)
    g.cds_client = client
    g.trusted_issuer = client.issuer
    return None


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def _unauthorized(reason: str) -> Response:
    logger.warning("auth: request refused", extra={"auth_reason": reason,
                                                   "method": request.method,
                                                   "path": request.path})
    response = error_response(401, "login", "Authentication failed.")
    error = "" if reason == "missing-bearer-token" else ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = _CHALLENGE + error
    return response
