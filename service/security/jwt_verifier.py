"""Verify the JWT a CDS client presents (CDS Hooks 2.0 "Trusting CDS Clients" + best practices).

Checks, in order: header (`typ` JWT, `kid`, `alg` in the allowlist; `none` and HMAC never), `iss`
trusted, signature with the issuer's key (inline JWK Set, `jwks_url`, or a `jku` inside the issuer's
`jku_allowlist`; any other `jku` is never fetched), `aud` equal to the URL called, `exp`/`iat`/`nbf`
finite numbers, checked with leeway, lifetime at most `max_lifetime`, `tenant` when configured,
and last `jti` not seen before (recorded in the shared replay store so every worker and replica
refuses a replay).

`TokenRejected.reason` is a short fixed code, safe to log; nothing taken from the token goes in it.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from service.errors import ConfigurationError
from service.security.issuers import IssuerConfig, TrustedIssuers
from service.security.jwks import JwksCache, keys_by_kid
from service.security.urls import url_is_under

ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
MAX_TOKEN_CHARS = 16 * 1024
MAX_JTI_CHARS = 256


class ReplayStore(Protocol):
    """The store's replay method: False when (iss, jti) was already remembered (a replay)."""

    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool: ...


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is a fixed code for logs, never shown to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedClient:
    """A CDS client whose token passed every check."""

    issuer: IssuerConfig
    jti: str
    expires_at: datetime
    tenant: str | None = None
    subject: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """The configured algorithm allowlist; ConfigurationError for `none`, HMAC or unknown names."""
    chosen = tuple(algorithms)
    if not chosen:
        raise ConfigurationError("OSTEOCDS_JWT_ALGORITHMS: at least one algorithm is required")
    for name in chosen:
        if name not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(
                f"OSTEOCDS_JWT_ALGORITHMS: {name!r} refused (asymmetric algorithms only; "
                "CDS Hooks forbids `none` and HMAC)"
            )
    return chosen


class JwtVerifier:
    """Verifies CDS client tokens against the trusted issuers."""

    def __init__(self, issuers: TrustedIssuers, replay_store: ReplayStore, *,
                 algorithms: Iterable[str] = ("ES384", "RS384"), leeway: int = 60,
                 max_lifetime: int = 3600, jwks_cache: JwksCache | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._issuers = issuers
        self._replay_store = replay_store
        self._algorithms = check_algorithms(algorithms)
        self._leeway, self._max_lifetime = leeway, max_lifetime
        self._jwks_cache = jwks_cache if jwks_cache is not None else JwksCache()
        self._clock = clock

    @property
    def issuers(self) -> TrustedIssuers:
        return self._issuers

    def verify(self, token: str, audience: str) -> VerifiedClient:
        """Return the verified client, or raise TokenRejected."""
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise TokenRejected("malformed")
        header, claims, signature = _unverified_parts(token)
        self._check_header(header)
        issuer = self._issuers.get(claims.get("iss"))
        if issuer is None:
            raise TokenRejected("untrusted-issuer")
        key = self._resolve_key(issuer, header)
        _check_signature(token, signature, key, header["alg"])  # the claims are now trusted
        _check_audience(claims.get("aud"), audience)
        expires_at = self._check_times(claims)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise TokenRejected("missing-jti")
        tenant = claims.get("tenant")
        if issuer.tenant is not None and tenant != issuer.tenant:
            raise TokenRejected("wrong-tenant")
        if not self._replay_store.remember_jti(issuer.iss, jti, expires_at):
            raise TokenRejected("replayed")
        subject = claims.get("sub")
        return VerifiedClient(
            issuer=issuer, jti=jti, expires_at=expires_at,
            tenant=tenant if isinstance(tenant, str) else None,
            subject=subject if isinstance(subject, str) else None,
        )

    def _check_header(self, header: Mapping[str, Any]) -> None:
        if not isinstance(header.get("typ"), str) or header["typ"].upper() != "JWT":
            raise TokenRejected("bad-typ")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise TokenRejected("missing-kid")
        if header.get("alg") not in self._algorithms:
            raise TokenRejected("algorithm-not-allowed")
        if "jku" in header and not isinstance(header["jku"], str):
            raise TokenRejected("malformed")

    def _resolve_key(self, issuer: IssuerConfig, header: Mapping[str, Any]) -> jwt.PyJWK:
        kid: str = header["kid"]
        if issuer.jwks is not None:
            key = keys_by_kid(issuer.jwks).get(kid)
            if key is not None:
                return key
        jku = header.get("jku")
        urls = [issuer.jwks_url] if issuer.jwks_url else []
        if jku and any(url_is_under(jku, allowed) for allowed in issuer.jku_allowlist):
            urls.append(jku)
        # A `jku` outside the issuer's allowlist is ignored, never fetched (SSRF, key injection).
        for url in urls:
            key = self._jwks_cache.get_key(url, kid)
            if key is not None:
                return key
        raise TokenRejected("unknown-key")

    def _check_times(self, claims: Mapping[str, Any]) -> datetime:
        now, leeway = self._clock(), self._leeway
        exp, iat = _time_claim(claims, "exp"), _time_claim(claims, "iat")
        if exp is None:
            raise TokenRejected("missing-exp")
        if iat is None:
            raise TokenRejected("missing-iat")
        if now > exp + leeway:
            raise TokenRejected("expired")
        if iat > now + leeway:
            raise TokenRejected("issued-in-future")
        if claims.get("nbf") is not None:
            nbf = _time_claim(claims, "nbf")
            if nbf is None or nbf > now + leeway:
                raise TokenRejected("not-yet-valid")
        if exp <= iat or exp - iat > self._max_lifetime:
            raise TokenRejected("lifetime-too-long")
        return datetime.fromtimestamp(exp + leeway, tz=UTC)


def _key_fits_algorithm(key: jwt.PyJWK, alg: str) -> bool:
    """EC keys sign ES* (the curve fixes which); RSA keys RS*/PS* and the JWK's `alg` if set."""
    if key.key_type == "EC":
        return key.algorithm_name == alg
    if key.key_type == "RSA" and alg[:2] in {"RS", "PS"}:
        declared = getattr(key, "_jwk_data", {}).get("alg")
        return declared in (None, alg)
    return False


def _time_claim(claims: Mapping[str, Any], name: str) -> float | None:
    """The claim as a finite number of seconds, or None: absent, a boolean, a string, or NaN or
    Infinity (JSON parsers accept both, and every comparison with NaN is false)."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value  # an int stays an int: never converted, so never too large for a float


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The token's header, claims and signature, parsed once, before the signature is checked
    (the issuer named in the claims says which key checks it): PyJWT's strict base64url and JSON
    parsing, its header checks (`kid` a string, `crit` understood), the claims a JSON object."""
    try:
        parts = jwt.decode_complete(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenRejected("malformed") from None
    header, claims, signature = parts["header"], parts["payload"], parts["signature"]
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("malformed")
    return header, claims, signature


def _check_signature(token: str, signature: bytes, key: jwt.PyJWK, alg: str) -> None:
    """`signature` (as `_unverified_parts` decoded it) checked over the token's signing input
    (everything before its last dot, as PyJWT signs and verifies) with `key` for `alg`: what
    PyJWT's `decode` does after parsing, without parsing the token a second time."""
    if not _key_fits_algorithm(key, alg):
        raise TokenRejected("algorithm-key-mismatch")
    algorithm = jwt.get_algorithm_by_name(alg)
    signing_input = token.rsplit(".", 1)[0].encode("utf-8")
    try:
        prepared = algorithm.prepare_key(key.key)
        short_key = algorithm.check_key_length(prepared)
        if short_key:  # PyJWT's own warning, as its `decode` gives it
            warnings.warn(short_key, jwt.InsecureKeyLengthWarning, stacklevel=2)
        valid = algorithm.verify(signing_input, prepared, signature)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise TokenRejected("malformed") from None
    if not valid:
        raise TokenRejected("bad-signature")


def _check_audience(aud: object, expected: str) -> None:
    if isinstance(aud, str) and aud == expected:
        return
    if isinstance(aud, list) and all(isinstance(item, str) for item in aud) and expected in aud:
        return
    raise TokenRejected("wrong-audience")


def expected_audience(public_base_url: str, path: str) -> str:
    """The `aud` a client must use for `path`: the configured public base URL + the request path."""
    return public_base_url.rstrip("/") + path
