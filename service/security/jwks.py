"""JWK Sets fetched over HTTPS: cached, fetched with a timeout, refreshed once on an unknown `kid`.

Only URLs the caller has already vetted (an issuer's `jwks_url`, or a `jku` inside its allowlist)
ever reach `JwksCache`; this module does not decide what is trusted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
Fetcher = Callable[[str, float], Mapping[str, Any]]


class JwksUnavailable(Exception):
    """The JWK Set could not be fetched or parsed."""


def keys_by_kid(jwks: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """Public keys of a JWK Set by `kid`; unusable or symmetric keys are skipped."""
    usable: dict[str, jwt.PyJWK] = {}
    for entry in jwks.get("keys", []) if isinstance(jwks, Mapping) else []:
        if not isinstance(entry, dict) or entry.get("kty") not in {"EC", "RSA"}:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or "d" in entry:
            continue
        try:
            usable[kid] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            logger.warning("jwks: skipping unusable key", extra={"kid": kid[:64]})
    return usable


def fetch_jwks(url: str, timeout: float) -> Mapping[str, Any]:
    """GET a JWK Set: no redirects, bounded size, JSON object required."""
    try:
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True,
                          headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise JwksUnavailable(f"HTTP {response.status_code}")
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise JwksUnavailable(type(exc).__name__) from None
    if len(body) > MAX_JWKS_BYTES:
        raise JwksUnavailable("JWK Set too large")
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksUnavailable("not JSON") from None
    if not isinstance(document, dict):
        raise JwksUnavailable("not a JWK Set")
    return document


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    last_forced_refresh: float = float("-inf")


class JwksCache:
    """Keys per JWKS URL, kept `ttl` seconds; an unknown `kid` forces one refresh per
    `min_refresh_interval` (key rotation without letting random kids trigger a fetch storm)."""

    def __init__(self, *, ttl: float = 300.0, timeout: float = 3.0,
                 min_refresh_interval: float = 10.0, fetcher: Fetcher = fetch_jwks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._timeout = ttl, timeout
        self._min_refresh_interval = min_refresh_interval
        self._fetcher, self._clock = fetcher, clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get_key(self, url: str, kid: str) -> jwt.PyJWK | None:
        """The key `kid` from the JWK Set at `url`, fetching or refreshing it as needed."""
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
            now = self._clock()
            if now - entry.fetched_at > self._ttl:
                self._refresh(url, entry, now)
            elif kid not in entry.keys and self._may_force_refresh(entry, now):
                entry.last_forced_refresh = now
                self._refresh(url, entry, now)
            return entry.keys.get(kid)

    def _may_force_refresh(self, entry: _Entry, now: float) -> bool:
        return now - entry.last_forced_refresh >= self._min_refresh_interval

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        try:
            entry.keys = keys_by_kid(self._fetcher(url, self._timeout))
            entry.fetched_at = now
        except JwksUnavailable as exc:
            logger.warning("jwks: fetch failed", extra={"jwks_url": url, "reason": str(exc)})
            # Keep the keys we had; retry after the refresh interval, not on every request.
            entry.fetched_at = now - self._ttl + self._min_refresh_interval
