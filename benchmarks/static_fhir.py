"""A tiny static FHIR server for the paged-history benchmark: pre-built searchset pages, served
from memory on 127.0.0.1 with a fixed added latency per response.

The in-memory Medplum test server takes ~26 s to answer one Observation search of a
3,300-resource patient with the service's code list, so it says nothing about the service. This
server answers the service's six queries the way a FHIR server would, and pages them:

- `GET Patient/<id>` reads the patient; any other id is 404 (an OperationOutcome).
- `GET <Type>?patient=<id>&...` answers the matches of that prefetch key (the same matching as
  `service.hook_requests.build_prefetch`: subject or patient reference, the Observation code list
  of the knowledge data, newest Observation first), `_count` entries a page (clamped to
  `max_page_size`; `default_page_size` without `_count`, like HAPI's 20), with `Bundle.link`
  next URLs (`_page=<n>`) until the last page.

Pages are built once per (key, page size) and served as bytes: the server's own cost is a dict
lookup, so the wall time measured is the service's (plus the added latency).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from service.hook_requests import build_prefetch
from service.record.queries import KEY_RESOURCE_TYPES, PATIENT

FHIR_JSON = "application/fhir+json"


class StaticPagedFhirServer:
    """Serve one patient's record as paged search results; use as a context manager."""

    def __init__(self, bundle: Mapping[str, Any], *, observation_codes: Sequence[str],
                 local_observation_codes: Sequence[str] = (), delay_ms: int = 0,
                 max_page_size: int = 1000, default_page_size: int = 20) -> None:
        prefetch = build_prefetch(bundle, observation_codes=observation_codes,
                                  local_observation_codes=local_observation_codes)
        patient = prefetch[PATIENT]
        self.patient_id = str(patient["id"])
        self._patient_bytes = json.dumps(patient).encode()
        self._entries = {key: list(value.get("entry", [])) for key, value in prefetch.items()
                         if key != PATIENT}
        self._key_of_type = {KEY_RESOURCE_TYPES[key]: key for key in self._entries}
        self.delay_seconds = delay_ms / 1000
        self.max_page_size, self.default_page_size = max_page_size, default_page_size
        self._pages: dict[tuple[str, int, int], bytes] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> StaticPagedFhirServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def matches(self, resource_type: str) -> int:
        """How many resources a search of this type finds for the patient (includes left out)."""
        entries = self._entries.get(self._key_of_type.get(resource_type, ""), [])
        return sum(1 for entry in entries if entry["search"]["mode"] == "match")

    def answer(self, path: str) -> tuple[int, bytes]:
        """(HTTP status, body) for one GET path with its query string."""
        parts = urlsplit(path)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "Patient":
            if segments[1] == self.patient_id:
                return HTTPStatus.OK, self._patient_bytes
            return HTTPStatus.NOT_FOUND, _outcome("not-found", "no such Patient")
        if len(segments) != 1 or segments[0] not in self._key_of_type:
            return HTTPStatus.NOT_FOUND, _outcome("not-supported", "unknown resource type")
        query = parse_qs(parts.query)
        key = self._key_of_type[segments[0]]
        size = self._page_size(query.get("_count", [""])[0])
        page = int(query.get("_page", ["0"])[0] or 0)
        if query.get("patient", [""])[0] != self.patient_id:
            return HTTPStatus.OK, json.dumps(_searchset([], None)).encode()
        with self._lock:
            cached = self._pages.get((key, size, page))
        if cached is None:
            cached = self._build_page(key, segments[0], query, size, page)
            with self._lock:
                self._pages[(key, size, page)] = cached
        return HTTPStatus.OK, cached

    def _page_size(self, text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            return self.default_page_size
        return min(int(text), self.max_page_size)

    def _build_page(self, key: str, resource_type: str, query: dict[str, list[str]],
                    size: int, page: int) -> bytes:
        entries = self._entries[key]
        chunk = entries[page * size:(page + 1) * size]
        next_url = None
        if (page + 1) * size < len(entries):
            params = {name: values[0] for name, values in query.items() if name != "_page"}
            params["_page"] = str(page + 1)
            next_url = f"{self.base_url}/{resource_type}?{urlencode(params, safe='|,:/')}"
        return json.dumps(_searchset(chunk, next_url, total=self.matches(resource_type))).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(server.delay_seconds)
                status, body = server.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", FHIR_JSON)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        return Handler


def _searchset(entries: list[dict[str, Any]], next_url: str | None,
               total: int | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "total": len(entries) if total is None else total}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    if entries:
        bundle["entry"] = entries
    return bundle


def _outcome(code: str, text: str) -> bytes:
    return json.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": text}]}).encode()
