"""A careful FHIR R4 client for the data the EHR did not prefetch.

- One pooled `requests.Session` per FHIR origin, shared by hook calls (cookies blocked, so
  nothing leaks between calls); `Accept: application/fhir+json`; `Authorization: Bearer` only on
  requests to `fhirServer`'s origin. Redirects are not followed to another origin.
- Its connection pool keeps `pool_size(settings.threads)` connections per origin: every thread
  of the worker may run one hook call's six prefetch queries at once (capped at MAX_POOL_SIZE);
  a pool smaller than that discards connections ("Connection pool is full") and pays a new TCP
  and TLS handshake for them on the next call.
- TLS: certificates are checked against `OSTEOCDS_FHIR_CA_BUNDLE` (a hospital-internal CA) when
  set, certifi's bundle otherwise; the environment (REQUESTS_CA_BUNDLE, proxies, .netrc) is not
  read. A certificate that cannot be verified fails the query at once (no retry) with its own
  detail, so the 412 says TLS rather than "could not connect".
- Queries run in parallel in a thread pool that is shut down without waiting for stragglers.
- One `Deadline` per hook call covers connect, read and paging: every GET gets
  `timeout=min(remaining, cap)`, bodies are streamed with the socket timeout re-armed to the
  remaining time before every read, so a server dripping bytes cannot stretch the deadline.
- Compressed answers: `Accept-Encoding: gzip` (HAPI's `isRespondGzip`, nginx's `gzip on`), undone
  here chunk by chunk (`GzipDecoder`) rather than by urllib3, whose decoding read loops over the
  socket until a byte decodes, past the deadline; the page cap counts decoded bytes, so a small
  gzip bomb is refused like an oversize page. Any other Content-Encoding fails the query.
- Bounded pages and entries, next-link loop detection; a `next` link on another origin is rebased
  onto `fhirServer` when its path lies under fhirServer's path, refused otherwise.
- Retries with backoff only on connection errors and 502/503/504, inside the deadline.
- Unsupported resource types: when a search's first page fails with 400, 403, 404, 405, 422 or
  501, the server's CapabilityStatement (`GET [base]/metadata`) is read, once per client (one
  client per hook call), and only then. Only a readable CapabilityStatement whose
  `rest.resource` omits the type makes the search UNSUPPORTED (said in the card; a partial gap
  for Condition: `service.record.gather`). Every other case is a failure (412): a 400/404 for a
  type the statement lists (the search was rejected, the data exists, and dropping it silently
  could hide a contraindication), and any of these statuses when the statement cannot be read or
  is not a CapabilityStatement: a FHIR server SHALL provide one, so without it there is no
  evidence the type is unsupported (a wrong base URL answers 404 everywhere). Fetching metadata
  up front on every call would cost a round trip on the common path for a rare case; servers
  that do support every type never pay for it.
- A search page that carries an OperationOutcome entry with an `error` or `fatal` issue is a
  failure (CDS Hooks 2.0: errors come as OperationOutcomes); information and warning outcomes
  (HAPI adds some to searchsets) are dropped and the page is data. Diagnostics are never echoed.

Failures come back as `FetchResult(outcome=FAILED, detail=..., kind=...)`; `detail` never holds
the token, a URL or a patient identifier, so the caller may put it in a 412 message. `kind` (a
`FailureKind`: timeout, connection-error, tls-error, unauthorized, server-error, ...) is the
`outcome` label of `osteocds_fhir_queries_total` for that query, and `fetch` logs one WARNING line
per failed (or not found) query on the `osteocds.fhir` logger: the query's key (`conditions`; a
Medication read is logged as `Medication`, without its id), the kind, the HTTP status if any and
the detail; never the URL, the token or the patient id.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from enum import StrEnum
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from service import jsonio, telemetry
from service.config import Settings
from service.errors import DataUnavailable, InvalidRequest
from service.http_streams import socket_of
from service.record.queries import PREFETCH_KEYS
from service.record.shape import (
    RESOURCE_TYPE,
    ErrorOutcome,
    MalformedData,
    bundle_entries,
    check_resource,
    next_link_of,
)

CONNECT_TIMEOUT_CAP = 2.0
READ_TIMEOUT_CAP = 10.0
MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.1
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_PARALLEL = 8
MAX_SESSIONS = 32
# Connections kept per FHIR origin per worker: threads x the queries of one hook call, at most
# this many (more idle connections than that to one EHR is not worth keeping).
MAX_POOL_SIZE = 128
QUERIES_PER_CALL = len(PREFETCH_KEYS)
CAPABILITY_CHECKED_STATUSES = frozenset({400, 403, 404, 405, 422, 501})
FHIR_JSON = "application/fhir+json"
ACCEPT_ENCODING = "gzip"  # only what `body_decoder` undoes
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib reads the gzip header and trailer (CRC, length)
READ_CHUNK_BYTES = 65536
ERROR_OUTCOME_DETAIL = "the FHIR server answered an error OperationOutcome"
TLS_UNVERIFIED_DETAIL = "the FHIR server's TLS certificate could not be verified"
TLS_FAILED_DETAIL = "the TLS handshake with the FHIR server failed"
_LOG = logging.getLogger("osteocds.fhir")
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class Deadline:
    """A monotonic time budget shared by every request of one hook call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class FetchOutcome(StrEnum):
    OK = "ok"
    UNSUPPORTED = "unsupported"  # a failed search of a type the CapabilityStatement omits
    NOT_FOUND = "not-found"  # 404/410 on a read
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a query FAILED: its metric outcome (`service.telemetry.FHIR_OUTCOMES`) and log kind."""

    TIMEOUT = "timeout"  # the deadline passed (connecting, waiting or reading)
    CONNECTION = "connection-error"  # no connection, or the connection broke mid-body
    TLS = "tls-error"  # certificate not verified, handshake failed
    UNAUTHORIZED = "unauthorized"  # HTTP 401: the token (fhirAuthorization)
    FORBIDDEN = "forbidden"  # HTTP 403: the token's scopes
    CLIENT_ERROR = "client-error"  # other HTTP 4xx
    SERVER_ERROR = "server-error"  # HTTP 5xx
    REDIRECT = "redirect"  # HTTP 3xx, never followed: check the fhirServer base URL
    INVALID_RESPONSE = "invalid-response"  # not JSON, not the resource asked for, malformed
    ERROR_OUTCOME = "error-outcome"  # a search page with an error OperationOutcome
    TOO_LARGE = "too-large"  # a page over MAX_PAGE_BYTES, or more than fhir_max_entries
    PAGING = "paging"  # more than fhir_max_pages pages, or a repeated next link
    REFUSED = "refused"  # a next link off the FHIR server
    FAILED = "failed"  # anything else (a bug: the exception is not kept)


def status_kind(status: int) -> FailureKind:
    """The failure kind of an HTTP status that is not the answer expected."""
    if status == 401:
        return FailureKind.UNAUTHORIZED
    if status == 403:
        return FailureKind.FORBIDDEN
    if 300 <= status < 400:
        return FailureKind.REDIRECT
    if 400 <= status < 500:
        return FailureKind.CLIENT_ERROR
    if 500 <= status < 600:
        return FailureKind.SERVER_ERROR
    return FailureKind.INVALID_RESPONSE


@dataclass
class FetchResult:
    """One query's answer: bundle entries (a read is wrapped as one entry)."""

    outcome: FetchOutcome
    entries: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    pages: int = 0
    seconds: float = 0.0
    detail: str = ""
    kind: str = ""  # a FailureKind value when outcome is FAILED

    @property
    def metric_outcome(self) -> str:
        """The `outcome` label of this query's metrics: the failure kind for a failure."""
        if self.outcome is FetchOutcome.FAILED:
            return self.kind or FailureKind.FAILED.value
        return self.outcome.value


class _QueryFailed(Exception):
    """Internal: a query cannot give complete data; `detail` is safe to show."""

    def __init__(self, detail: str, status: int | None = None,
                 kind: FailureKind | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.kind = kind if kind is not None else (
            status_kind(status) if status is not None and status != 200
            else FailureKind.INVALID_RESPONSE)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with default ports filled in, for same-origin checks.

    Raises ValueError for a URL that cannot be split (a port out of range or not a number, a
    broken IPv6 literal); `checked_origin` turns that into a safe message."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def checked_origin(url: str) -> tuple[str, str, int] | None:
    """`origin_of`, or None when the URL is malformed (bad port, broken host)."""
    try:
        return origin_of(url)
    except ValueError:
        return None


def pool_size(threads: int) -> int:
    """Connections kept per FHIR origin: one per query a worker's threads can run at once."""
    return max(1, min(threads * QUERIES_PER_CALL, MAX_POOL_SIZE))


def tls_verify(settings: Settings) -> str | bool:
    """`requests`' `verify`: the configured CA bundle (file or directory), else certifi's."""
    return str(settings.fhir_ca_bundle) if settings.fhir_ca_bundle is not None else True


class _SessionPool:
    """Pooled sessions per origin, so hook calls reuse connections (and TLS) to the EHR.

    Keyed by origin and by the settings a session is built from (CA bundle, pool size), so
    clients of differently configured apps in one process never share a session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[Any, ...], requests.Session] = {}

    def get(self, url: str, settings: Settings) -> requests.Session:
        key = (*origin_of(url), tls_verify(settings), pool_size(settings.threads))
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                if len(self._sessions) >= MAX_SESSIONS:
                    _, oldest = self._sessions.popitem()
                    oldest.close()
                session = new_session(settings)
                self._sessions[key] = session
            return session


def new_session(settings: Settings) -> requests.Session:
    """A session for one FHIR origin: no environment, no cookies, the configured CA bundle and
    a connection pool sized for the worker's threads (`pool_size`)."""
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc credentials from the environment
    session.verify = tls_verify(settings)
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size(settings.threads),
                          max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


SESSIONS = _SessionPool()


class FhirClient:
    """Runs the service's queries against one FHIR server for one hook call."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        settings: Settings,
        session: requests.Session | None = None,
    ) -> None:
        origin = checked_origin(base_url)
        if origin is None:
            raise InvalidRequest("fhirServer is not a valid URL (malformed host or port)",
                                 field="fhirServer")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DataUnavailable("fhirServer is not an http(s) URL")
        if parts.scheme == "http" and not settings.is_development:
            raise DataUnavailable("fhirServer must use https (plain http is refused in production)")
        if parts.username or parts.password:
            raise DataUnavailable("fhirServer must not carry credentials in its URL")
        self.base_url = base_url.rstrip("/")
        self._base_path = parts.path.rstrip("/")
        self._origin = origin
        self._token = token
        self._settings = settings
        self._session = session or SESSIONS.get(base_url, settings)
        self._capability_lock = threading.Lock()
        self._capability_read = False
        self._capability: frozenset[str] | None = None

    # ---- public -------------------------------------------------------------------------

    def fetch(self, jobs: Mapping[str, str], deadline: Deadline) -> dict[str, FetchResult]:
        """Run every job in parallel; a job is a relative query ("Condition?patient=1",
        "Patient/1") or an absolute next link to continue. Always returns within the deadline
        (plus scheduling noise): queries still running then come back FAILED "timed out"."""
        if not jobs:
            return {}
        executor = ThreadPoolExecutor(max_workers=min(len(jobs), MAX_PARALLEL),
                                      thread_name_prefix="fhir")
        try:
            futures = {key: executor.submit(self.run, query, deadline)
                       for key, query in jobs.items()}
            wait_futures(futures.values(), timeout=max(deadline.remaining(), 0),
                         return_when=FIRST_EXCEPTION)
            results = {key: self._collect(future) for key, future in futures.items()}
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        for key, result in results.items():
            telemetry.observe_fhir_query(jobs[key], result.metric_outcome, result.seconds)
            if result.outcome in (FetchOutcome.FAILED, FetchOutcome.NOT_FOUND):
                _log_failure(key, result)
        return results

    def run(self, query: str, deadline: Deadline) -> FetchResult:
        """One query (a read or a search with its pages), timed."""
        started = time.monotonic()
        is_search = "?" in query or query.startswith(("http://", "https://"))
        try:
            result = self._search(query, deadline) if is_search else self._read(query, deadline)
        except _QueryFailed as failure:
            result = FetchResult(FetchOutcome.FAILED, status=failure.status, detail=failure.detail,
                                 kind=failure.kind.value)
        result.seconds = time.monotonic() - started
        return result

    # ---- queries ------------------------------------------------------------------------

    def _read(self, query: str, deadline: Deadline) -> FetchResult:
        status, body = self._get(self.resolve(query), deadline)
        if status in (404, 410):
            return FetchResult(FetchOutcome.NOT_FOUND, status=status, pages=1,
                               detail="not found on the FHIR server")
        if status != 200:
            raise _QueryFailed(f"the FHIR server answered HTTP {status}", status)
        expected_type = query.split("/", 1)[0]
        if not isinstance(body, dict) or body.get("resourceType") != expected_type:
            raise _QueryFailed(f"the FHIR server did not answer a {expected_type}", status,
                               FailureKind.INVALID_RESPONSE)
        try:
            check_resource(body)
        except MalformedData as malformed:
            raise _QueryFailed(f"the FHIR server answered {malformed.detail}", status,
                               FailureKind.INVALID_RESPONSE) from None
        return FetchResult(FetchOutcome.OK, [{"resource": body}], status=status, pages=1)

    def _search(self, query: str, deadline: Deadline) -> FetchResult:
        url: str | None = self.resolve(query)
        seen: set[str] = set()
        entries: list[dict[str, Any]] = []
        pages, status = 0, None
        while url is not None:
            if url in seen:
                raise _QueryFailed("the FHIR server repeated a next link", status,
                                   FailureKind.PAGING)
            if pages >= self._settings.fhir_max_pages:
                raise _QueryFailed(f"more than {self._settings.fhir_max_pages} pages", status,
                                   FailureKind.PAGING)
            seen.add(url)
            status, body = self._get(url, deadline)
            pages += 1
            if status != 200 and pages == 1 and self._is_unsupported(url, status, deadline):
                return FetchResult(FetchOutcome.UNSUPPORTED, status=status, pages=pages,
                                   detail="not supported by the FHIR server")
            if status != 200:
                raise _QueryFailed(f"the FHIR server answered HTTP {status}", status)
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise _QueryFailed("the FHIR server did not answer a Bundle", status,
                                   FailureKind.INVALID_RESPONSE)
            try:
                entries.extend(bundle_entries(body, refuse_errors=True))
                next_link = next_link_of(body)
            except MalformedData as malformed:
                raise _QueryFailed(f"the FHIR server answered {malformed.detail}", status,
                                   FailureKind.INVALID_RESPONSE) from None
            except ErrorOutcome:
                raise _QueryFailed(ERROR_OUTCOME_DETAIL, status,
                                   FailureKind.ERROR_OUTCOME) from None
            if len(entries) > self._settings.fhir_max_entries:
                raise _QueryFailed(f"more than {self._settings.fhir_max_entries} entries", status,
                                   FailureKind.TOO_LARGE)
            url = self.resolve(next_link) if next_link else None
        return FetchResult(FetchOutcome.OK, entries, status=status, pages=pages)

    # ---- CapabilityStatement --------------------------------------------------------------

    def supported_types(self, deadline: Deadline) -> frozenset[str] | None:
        """Resource types the server's CapabilityStatement lists; None when it cannot be read.

        Fetched at most once per client; parallel queries wait for the one fetch."""
        with self._capability_lock:
            if not self._capability_read:
                self._capability_read = True
                self._capability = self._read_capability(deadline)
            return self._capability

    def _read_capability(self, deadline: Deadline) -> frozenset[str] | None:
        try:
            status, body = self._get(self.resolve("metadata"), deadline)
        except _QueryFailed:
            return None
        return capability_types(body) if status == 200 else None

    def _is_unsupported(self, url: str, status: int, deadline: Deadline) -> bool:
        """Whether a failed first page means "type not supported": only when a readable
        CapabilityStatement omits the type (see the module docstring)."""
        if status not in CAPABILITY_CHECKED_STATUSES:
            return False
        resource_type = self._type_of(url)
        if resource_type is None:
            return False
        supported = self.supported_types(deadline)
        return supported is not None and resource_type not in supported

    def _type_of(self, url: str) -> str | None:
        path = urlsplit(url).path
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path):]
        first = path.strip("/").split("/", 1)[0]
        return first if RESOURCE_TYPE.match(first) else None

    def resolve(self, link: str) -> str:
        """An absolute URL on fhirServer's origin for a relative query or a (next) link.

        A link on another origin is rebased onto fhirServer when its path lies under
        fhirServer's path (servers behind proxies report internal host names), else refused.
        """
        if not link.startswith(("http://", "https://")):
            return urljoin(self.base_url + "/", link.lstrip("/"))
        origin = checked_origin(link)
        if origin is None:
            raise _QueryFailed("a next link was not a valid URL (refused)",
                               kind=FailureKind.REFUSED)
        if origin == self._origin:
            return link
        parts = urlsplit(link)
        if self._base_path == "" or parts.path == self._base_path or parts.path.startswith(
            self._base_path + "/"
        ):
            base = urlsplit(self.base_url)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        raise _QueryFailed("a next link pointed outside the FHIR server (refused)",
                           kind=FailureKind.REFUSED)

    # ---- HTTP ---------------------------------------------------------------------------

    def _get(self, url: str, deadline: Deadline) -> tuple[int, Any]:
        """GET with retries on connection errors and 502/503/504, all inside the deadline (a
        TLS failure is not retried: a certificate does not verify on a second try).

        Returns (status, parsed JSON or None for an error status)."""
        backoff = FIRST_BACKOFF_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last_attempt = attempt == MAX_ATTEMPTS
            try:
                status, body = self._get_once(url, deadline)
            except requests.exceptions.SSLError as error:
                raise _tls_failure(error) from None
            except requests.exceptions.ConnectionError as error:
                if isinstance(error, requests.exceptions.ReadTimeout) or last_attempt:
                    raise _connection_failure(error) from None
                if not _sleep_within(backoff, deadline):
                    raise _connection_failure(error) from None
            else:
                if status not in RETRY_STATUSES or last_attempt:
                    return status, body
                if not _sleep_within(backoff, deadline):
                    return status, body
            backoff *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, url: str, deadline: Deadline) -> tuple[int, Any]:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _QueryFailed("timed out", kind=FailureKind.TIMEOUT)
        if checked_origin(url) != self._origin:  # defence in depth: the token stays on fhirServer
            raise _QueryFailed("refused a request outside the FHIR server",
                               kind=FailureKind.REFUSED)
        try:
            response = self._session.get(
                url,
                headers=self._headers(),
                timeout=(min(remaining, CONNECT_TIMEOUT_CAP), min(remaining, READ_TIMEOUT_CAP)),
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.Timeout as error:
            if isinstance(error, requests.exceptions.ConnectTimeout):
                raise
            raise _QueryFailed("timed out", kind=FailureKind.TIMEOUT) from None
        with response:
            if response.is_redirect:
                raise _QueryFailed(f"the FHIR server redirected (HTTP {response.status_code})",
                                   response.status_code, FailureKind.REDIRECT)
            if response.status_code != 200:
                return response.status_code, None
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            raw = read_body(response, deadline)
        try:
            return 200, jsonio.loads(raw)
        except ValueError:
            raise _QueryFailed(_not_json_detail(media_type), 200,
                               FailureKind.INVALID_RESPONSE) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON, "Accept-Encoding": ACCEPT_ENCODING}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _collect(self, future: Any) -> FetchResult:
        if not future.done():
            return FetchResult(FetchOutcome.FAILED, detail="timed out",
                               kind=FailureKind.TIMEOUT.value)
        error = future.exception()
        if error is not None:
            if isinstance(error, requests.exceptions.Timeout):
                return FetchResult(FetchOutcome.FAILED, detail="timed out",
                                   kind=FailureKind.TIMEOUT.value)
            return FetchResult(FetchOutcome.FAILED, detail="the FHIR request failed",
                               kind=FailureKind.FAILED.value)
        result: FetchResult = future.result()
        return result


def _not_json_detail(media_type: str) -> str:
    """Why a 200 answer is not data: an HTML page (a sign-in page or a proxy's error page in
    front of the FHIR server) is named as such; anything else is malformed JSON."""
    if media_type in ("text/html", "application/xhtml+xml"):
        return ("the FHIR server answered an HTML page, not FHIR JSON (a sign-in or proxy "
                "page? check fhirServer and the token)")
    return "the FHIR server answered malformed JSON"


def read_body(response: requests.Response, deadline: Deadline) -> bytes:
    """The decoded body, read chunk by chunk with the socket timeout re-armed to the time left.

    Refused past MAX_PAGE_BYTES decoded bytes; a gzip body is never expanded more than one byte
    past the cap, so a compressed page costs no more memory than an uncompressed one."""
    decoder = body_decoder(response.headers.get("Content-Encoding"))
    chunks: list[bytes] = []
    total = 0
    sock = socket_of(response)
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _QueryFailed("timed out", kind=FailureKind.TIMEOUT)
        if sock is not None:
            try:
                sock.settimeout(min(remaining, READ_TIMEOUT_CAP))
            except OSError:  # already closed: the whole body is buffered
                sock = None
        try:
            chunk = response.raw.read1(READ_CHUNK_BYTES, decode_content=False)
        except Exception as error:  # urllib3 wraps socket timeouts in several types
            if "timed out" in str(error).lower():
                raise _QueryFailed("timed out", kind=FailureKind.TIMEOUT) from None
            raise _QueryFailed("the FHIR server connection broke",
                               kind=FailureKind.CONNECTION) from None
        if not chunk:
            decoder.finish()
            return b"".join(chunks)
        decoded = decoder.decode(chunk, MAX_PAGE_BYTES - total + 1)
        total += len(decoded)
        if total > MAX_PAGE_BYTES:
            raise _QueryFailed("a FHIR page was too large", kind=FailureKind.TOO_LARGE)
        chunks.append(decoded)


class IdentityDecoder:
    """A body sent as it is (no Content-Encoding, or `identity`)."""

    def decode(self, data: bytes, limit: int) -> bytes:
        return data

    def finish(self) -> None:
        return None


MALFORMED_GZIP = "the FHIR server answered a malformed gzip body"


class GzipDecoder:
    """Undoes `Content-Encoding: gzip` one raw chunk at a time.

    `decode` stops at `limit` decoded bytes (the caller refuses the page when it gets that many),
    so a chunk of a gzip bomb expands to at most the page cap, not ~1000 times its size.
    Concatenated gzip members (RFC 1952 allows them) are read one after another."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(wbits=GZIP_WBITS)

    def decode(self, data: bytes, limit: int) -> bytes:
        decoded = b""
        try:
            while True:
                decoded += self._zlib.decompress(data, limit - len(decoded))
                if len(decoded) >= limit or not self._zlib.unused_data:
                    return decoded
                data = self._zlib.unused_data  # the next member
                self._zlib = zlib.decompressobj(wbits=GZIP_WBITS)
        except zlib.error:
            raise _QueryFailed(MALFORMED_GZIP, kind=FailureKind.INVALID_RESPONSE) from None

    def finish(self) -> None:
        """At the end of the body: a member cut short is malformed, not a shorter page."""
        if not self._zlib.eof:
            raise _QueryFailed(MALFORMED_GZIP, kind=FailureKind.INVALID_RESPONSE)


def body_decoder(content_encoding: str | None) -> IdentityDecoder | GzipDecoder:
    """The decoder for a response's Content-Encoding; anything but gzip (the one coding asked
    for) or none fails the query rather than reaching the JSON parser as bytes."""
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return IdentityDecoder()
    if coding in ("gzip", "x-gzip"):  # RFC 9110 8.4.1.3: x-gzip is gzip
        return GzipDecoder()
    raise _QueryFailed("the FHIR server answered an unsupported Content-Encoding",
                       kind=FailureKind.INVALID_RESPONSE)


def capability_types(body: Any) -> frozenset[str] | None:
    """The types in CapabilityStatement.rest[mode=server].resource[].type; None when the body is
    not a CapabilityStatement or lists no resource at all (nothing can be concluded)."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "CapabilityStatement":
        return None
    types: set[str] = set()
    rests = body.get("rest")
    for rest in rests if isinstance(rests, list) else ():
        if not isinstance(rest, Mapping) or rest.get("mode", "server") != "server":
            continue
        resources = rest.get("resource")
        for resource in resources if isinstance(resources, list) else ():
            if isinstance(resource, Mapping) and isinstance(resource.get("type"), str):
                types.add(resource["type"])
    return frozenset(types) or None


def _sleep_within(seconds: float, deadline: Deadline) -> bool:
    """Back off before a retry when time allows; False when the deadline would pass."""
    if deadline.remaining() <= seconds + 0.05:
        return False
    time.sleep(seconds)
    return True


def _connection_failure(error: Exception) -> _QueryFailed:
    if isinstance(error, requests.exceptions.Timeout):
        return _QueryFailed("timed out", kind=FailureKind.TIMEOUT)
    return _QueryFailed("could not connect to the FHIR server", kind=FailureKind.CONNECTION)


def _tls_failure(error: Exception) -> _QueryFailed:
    """A TLS error: an unverifiable certificate (unknown CA, expired, wrong host name) says so;
    any other handshake failure (protocol versions, plain http on the https port) too."""
    if _caused_by_verification(error):
        return _QueryFailed(TLS_UNVERIFIED_DETAIL, kind=FailureKind.TLS)
    return _QueryFailed(TLS_FAILED_DETAIL, kind=FailureKind.TLS)


def _caused_by_verification(error: BaseException) -> bool:
    """Whether `ssl.SSLCertVerificationError` is somewhere in the chain requests and urllib3
    wrap it in (requests.SSLError(MaxRetryError(reason=urllib3.SSLError(...))))."""
    pending: list[object] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen or not isinstance(current, BaseException):
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        pending.extend((*current.args, getattr(current, "reason", None),
                        current.__cause__, current.__context__))
    return False


def _log_failure(key: str, result: FetchResult) -> None:
    """One WARNING line for a query that gave no data: its key, kind, HTTP status and detail
    (all free of URLs, tokens and patient ids), for the operator behind the 412."""
    if not _LOG.isEnabledFor(logging.WARNING):
        return
    shown_key = key if _PLAIN_KEY.match(key) else _type_only(key)
    kind = result.metric_outcome
    status = result.status if result.status is not None else "-"
    _LOG.warning("FHIR query failed: key=%s kind=%s status=%s seconds=%.3f: %s",
                 shown_key, kind, status, result.seconds, result.detail or kind,
                 extra={"reason": kind})


def _type_only(query: str) -> str:
    """`Medication` for `Medication/123`, `Condition` for `Condition?patient=...`; `other` for
    anything that does not start with a resource type (an absolute URL)."""
    first = re.split(r"[/?]", query, maxsplit=1)[0]
    return first if RESOURCE_TYPE.match(first) else "other"


FhirClientFactory = Callable[[str, "str | None", Settings], FhirClient]


def default_client_factory(base_url: str, token: str | None, settings: Settings) -> FhirClient:
    """The client gather_record uses unless told otherwise."""
    return FhirClient(base_url, token=token, settings=settings)
