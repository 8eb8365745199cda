"""Trusted CDS clients: the issuers file named by OSTEOCDS_TRUSTED_ISSUERS_FILE (a contract).

Format::

    {"issuers": [
      {"iss": "https://ehr.example.org", "jwks": {"keys": [...]}},
      {"iss": "https://other.example.org", "jwks_url": "https://other.example.org/jwks",
       "jku_allowlist": ["https://other.example.org/keys/"],
       "fhir_servers": ["https://other.example.org/fhir"], "tenant": "org-1"}
    ]}

The file lists at least one issuer. Each issuer needs at least one key source: `jwks` (inline,
exchanged out of band), `jwks_url`, or a `jku_allowlist` (the token's `jku` header is then fetched
when it lies under one of the entries). `fhir_servers` lists the only `fhirServer` values accepted
from the issuer: without it, none is. Every URL must be https (plain http only for loopback hosts,
for tests and local development; never for `fhir_servers`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from service.errors import ConfigurationError
from service.security.urls import is_secure_url, normalise_base_url

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
_ALLOWED_FIELDS = frozenset({"iss", "jwks", "jwks_url", "jku_allowlist", "fhir_servers", "tenant"})


@dataclass(frozen=True)
class IssuerConfig:
    """What the service trusts about one CDS client (JWT issuer)."""

    iss: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    jku_allowlist: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    tenant: str | None = None

    def allows_fhir_server(self, fhir_server: str) -> bool:
        """True only when `fhir_server` is one of this issuer's `fhir_servers`: an issuer that
        lists none may send no `fhirServer` (its calls must carry complete prefetch)."""
        wanted = normalise_base_url(fhir_server)
        return any(normalise_base_url(listed) == wanted for listed in self.fhir_servers)


class TrustedIssuers:
    """The issuers the service trusts, looked up by the token's `iss`."""

    def __init__(self, issuers: Iterable[IssuerConfig]) -> None:
        self._by_iss: dict[str, IssuerConfig] = {}
        for issuer in issuers:
            self._by_iss[issuer.iss] = issuer

    def get(self, iss: object) -> IssuerConfig | None:
        """The issuer configured for `iss`, or None."""
        return self._by_iss.get(iss) if isinstance(iss, str) else None

    def with_issuer(self, issuer: IssuerConfig) -> TrustedIssuers:
        """A copy that also trusts `issuer`, unless its `iss` is already configured."""
        if issuer.iss in self._by_iss:
            return self
        return TrustedIssuers([*self._by_iss.values(), issuer])

    def __contains__(self, iss: object) -> bool:
        return self.get(iss) is not None

    def __iter__(self) -> Iterator[IssuerConfig]:
        return iter(self._by_iss.values())

    def __len__(self) -> int:
        return len(self._by_iss)


def load_trusted_issuers(path: Path) -> TrustedIssuers:
    """Read and validate the issuers file; ConfigurationError names the offending field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"OSTEOCDS_TRUSTED_ISSUERS_FILE {path}: cannot be read ({exc.strerror})"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"OSTEOCDS_TRUSTED_ISSUERS_FILE {path}: not JSON (line {exc.lineno})"
        ) from None
    return parse_trusted_issuers(document, source=str(path))


def parse_trusted_issuers(document: Any, *, source: str = "issuers file") -> TrustedIssuers:
    """Validate an issuers document (already parsed JSON)."""
    if not isinstance(document, dict) or not isinstance(document.get("issuers"), list):
        raise ConfigurationError(f"{source}: `issuers` must be an array of issuer objects")
    if not document["issuers"]:
        raise ConfigurationError(
            f"{source}: `issuers` lists no issuer; every call would be refused "
            "(add the CDS clients to trust)"
        )
    issuers = [_parse_issuer(entry, f"{source}: issuers[{i}]") for i, entry in
               enumerate(document["issuers"])]
    seen: set[str] = set()
    for i, issuer in enumerate(issuers):
        if issuer.iss in seen:
            raise ConfigurationError(f"{source}: issuers[{i}].iss: duplicate issuer {issuer.iss}")
        seen.add(issuer.iss)
    return TrustedIssuers(issuers)


def sandbox_issuer() -> IssuerConfig:
    """The CDS Hooks Sandbox (its private key is public): trusted in the development profile only.

    The JWK Set is a copy of the one the Sandbox publishes, shipped in `service/data`.
    """
    shipped = resources.files("service.data").joinpath("cds-hooks-sandbox-jwks.json")
    text = shipped.read_text("utf-8")
    jwks = json.loads(text)
    _check_jwks(jwks, "cds-hooks-sandbox-jwks.json")
    return IssuerConfig(iss=SANDBOX_ISSUER, jwks=jwks)


def _parse_issuer(entry: Any, where: str) -> IssuerConfig:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: must be an object")
    unknown = sorted(set(entry) - _ALLOWED_FIELDS)
    if unknown:
        raise ConfigurationError(f"{where}.{unknown[0]}: unknown field")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss.strip():
        raise ConfigurationError(f"{where}.iss: required non-empty string")
    jwks = entry.get("jwks")
    if jwks is not None:
        _check_jwks(jwks, f"{where}.jwks")
    jwks_url = entry.get("jwks_url")
    if jwks_url is not None:
        _check_url(jwks_url, f"{where}.jwks_url")
    jku_allowlist = _url_list(entry, "jku_allowlist", where)
    if jwks is None and jwks_url is None and not jku_allowlist:
        raise ConfigurationError(
            f"{where}.jwks: one of jwks, jwks_url or jku_allowlist is required"
        )
    tenant = entry.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise ConfigurationError(f"{where}.tenant: must be a non-empty string")
    return IssuerConfig(
        iss=iss, jwks=jwks, jwks_url=jwks_url, jku_allowlist=jku_allowlist,
        fhir_servers=_url_list(entry, "fhir_servers", where, allow_loopback_http=False),
        tenant=tenant,
    )


def _url_list(entry: dict[str, Any], field: str, where: str, *,
              allow_loopback_http: bool = True) -> tuple[str, ...]:
    values = entry.get(field, [])
    if not isinstance(values, list):
        raise ConfigurationError(f"{where}.{field}: must be an array of URLs")
    for i, value in enumerate(values):
        _check_url(value, f"{where}.{field}[{i}]", allow_loopback_http=allow_loopback_http)
    return tuple(values)


def _check_url(value: Any, where: str, *, allow_loopback_http: bool = True) -> None:
    loopback_ok = allow_loopback_http
    secure = isinstance(value, str) and is_secure_url(value, allow_loopback_http=loopback_ok)
    if not secure:
        rule = "an https URL" + (" (http only for loopback hosts)" if allow_loopback_http else "")
        raise ConfigurationError(f"{where}: must be {rule}")


def _check_jwks(jwks: Any, where: str) -> None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ConfigurationError(f"{where}: must be a JWK Set with a non-empty `keys` array")
    for i, key in enumerate(keys):
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            raise ConfigurationError(f"{where}.keys[{i}].kid: required string")
        if key.get("kty") not in {"EC", "RSA"}:
            raise ConfigurationError(
                f"{where}.keys[{i}].kty: must be EC or RSA (no symmetric keys)"
            )
        if "d" in key or "p" in key:
            raise ConfigurationError(
                f"{where}.keys[{i}]: private key material; configure public keys only"
            )
