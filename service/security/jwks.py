"""JWK Sets fetched over HTTPS: cached, downloaded within a deadline, refreshed once on an unknown
`kid`.

Only URLs the caller has already vetted (an issuer's `jwks_url`, or a `jku` inside its allowlist)
ever reach `JwksCache`; this module does not decide what is trusted. A `jku` is fetched before the
token's signature can be checked, so the cache is bounded (the least recently used key set goes)
and a slow key server holds up only the requests waiting for that same URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
import urllib3

from service.http_streams import socket_of

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
MAX_CACHED_JWKS = 64
# A JWK Set is a few KB: asked for uncompressed, so every read is bounded by the deadline (urllib3's
# decoding reads on until a byte decodes, however long that takes).
REQUEST_HEADERS = {"Accept": "application/json", "Accept-Encoding": "identity"}
_READ_CHUNK_BYTES = 16 * 1024
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
    """GET a JWK Set: no redirects, bounded size, JSON object required. `timeout` bounds the
    connection and each read of the status line and headers, and is the deadline of the whole
    download, counted from the start: a body still arriving then is cut off, however slowly
    its bytes come."""
    deadline = time.monotonic() + timeout
    try:
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True,
                          headers=REQUEST_HEADERS) as response:
            if response.status_code != 200:
                raise JwksUnavailable(f"HTTP {response.status_code}")
            if response.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
                raise JwksUnavailable("a compressed JWK Set (identity was asked for)")
            body = _read_body(response, deadline)
    except requests.RequestException as exc:
        raise JwksUnavailable(type(exc).__name__) from None
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksUnavailable("not JSON") from None
    if not isinstance(document, dict):
        raise JwksUnavailable("not a JWK Set")
    return document


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """At most MAX_JWKS_BYTES, chunk by chunk, the socket timeout re-armed to the time
    left before every read, so a server dripping bytes cannot stretch the download."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise JwksUnavailable("deadline passed")
        _arm_socket_timeout(response, remaining)
        try:
            chunk = response.raw.read1(_READ_CHUNK_BYTES, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError):  # a timeout, a reset, bad encoding
            raise JwksUnavailable("read failed or timed out") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_JWKS_BYTES:
            raise JwksUnavailable("JWK Set too large")
        chunks.append(chunk)


def _arm_socket_timeout(response: requests.Response, seconds: float) -> None:
    """Set the response socket's timeout; a closed socket (body fully buffered) has none."""
    sock = socket_of(response)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(seconds)


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    last_forced_refresh: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while fetching this URL


class JwksCache:
    """Keys per JWKS URL, kept `ttl` seconds; an unknown `kid` forces one refresh per
    `min_refresh_interval` (key rotation without letting random kids trigger a fetch storm).

    At most `max_entries` URLs are kept, the least recently used dropped first (LRU rather than
    oldest-first: the issuers' own `jwks_url`s, used on every call, stay while a stream of
    one-off `jku`s churns through the rest). The cache's lock only guards the table; a fetch
    holds the lock of its own URL, so a slow key server delays only the calls that need it.
    """

    def __init__(self, *, ttl: float = 300.0, timeout: float = 3.0,
                 min_refresh_interval: float = 10.0, max_entries: int = MAX_CACHED_JWKS,
                 fetcher: Fetcher = fetch_jwks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._timeout = ttl, timeout
        self._min_refresh_interval = min_refresh_interval
        self._max_entries = max_entries
        self._fetcher, self._clock = fetcher, clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """How many JWKS URLs are cached now."""
        return len(self._entries)

    def get_key(self, url: str, kid: str) -> jwt.PyJWK | None:
        """The key `kid` from the JWK Set at `url`, fetching or refreshing it as needed."""
        entry = self._entry_for(url)
        with entry.lock:
            now = self._clock()
            if now - entry.fetched_at > self._ttl:
                self._refresh(url, entry, now)
            elif kid not in entry.keys and self._may_force_refresh(entry, now):
                entry.last_forced_refresh = now
                self._refresh(url, entry, now)
            return entry.keys.get(kid)

    def _entry_for(self, url: str) -> _Entry:
        """The entry for `url`, made the most recently used; the least recently used go."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                entry = self._entries[url] = _Entry()
            self._entries.move_to_end(url)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return entry

    def _may_force_refresh(self, entry: _Entry, now: float) -> bool:
        return now - entry.last_forced_refresh >= self._min_refresh_interval

    def _refresh(self, url: str, entry: _Entry, now: float) -> None:
        try:
            entry.keys = keys_by_kid(self._fetcher(url, self._timeout))
            entry.fetched_at = now
        except JwksUnavailable as exc:
            logger.warning("jwks: fetch failed", extra={"jwks_url": url, "reason": str(exc)})
            # Keep the keys we had; retry after the refresh interval, not on every request (nor
            # once more for each call that was waiting on this URL's lock meanwhile).
            entry.fetched_at = now - self._ttl + self._min_refresh_interval
            entry.last_forced_refresh = now
