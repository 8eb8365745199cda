"""A FHIR server that compresses its answers (HAPI's `isRespondGzip`, nginx's `gzip on`): the
client asks for gzip, so it must undo it, and every limit must still hold.

- a gzip-encoded searchset and read are parsed; the record equals the one built from prefetch;
- the page cap counts decoded bytes: a small gzip body that expands past `MAX_PAGE_BYTES` is
  refused with the error an uncompressed oversize page gets, one exactly at the cap is not;
- a server dripping compressed bytes that decode to nothing cannot stretch the deadline;
- a broken gzip body or an encoding the client did not ask for fails with a message that says so;
- the decoder reads concatenated gzip members split anywhere, and stops at the limit it is given.

Each test talks to a real HTTP server on 127.0.0.1 (one mode per path prefix, as the
integration tests' fault server)."""

from __future__ import annotations

import functools
import gzip
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.config import Settings
from service.record import fhir_client
from service.record.fhir_client import Deadline, FetchOutcome, FhirClient, GzipDecoder
from service.record.gather import gather_record
from tests.record import helpers as h
from tests.threads import serving

SETTINGS = Settings(profile="dev", fhir_deadline_seconds=5.0)
TOO_LARGE = "a FHIR page was too large"
EMPTY_DEFLATE_BLOCK = b"\x00\x00\x00\xff\xff"  # a stored block of length 0: decodes to nothing
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _bundle_for(path: str) -> dict[str, Any]:
    """What a FHIR server holding `h.full_prefetch()` answers for this query."""
    prefetch = h.full_prefetch()
    query = path.split("/", 2)[2]  # after "/<mode>/"
    if query.startswith("Patient/"):
        return prefetch["patient"]
    resource_type = query.split("?", 1)[0]
    for value in prefetch.values():
        entries = value.get("entry", [])
        if entries and entries[0]["resource"]["resourceType"] == resource_type:
            return value
    return h.searchset()


@functools.cache
def _padded_page(decoded_size: int) -> bytes:
    """A valid searchset whose JSON text is padded with spaces to exactly `decoded_size`."""
    text = json.dumps(h.searchset(h.condition("c1"))).encode()
    return text + b" " * (decoded_size - len(text))


@functools.cache
def _gzipped_page(decoded_size: int) -> bytes:
    return gzip.compress(_padded_page(decoded_size), compresslevel=9)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CompressingServer

    def do_GET(self) -> None:
        self.server.accept_encodings.append(self.headers.get("Accept-Encoding"))
        mode = self.path.strip("/").split("/", 1)[0]
        getattr(self, f"mode_{mode.replace('-', '_')}")()

    def _send(self, body: bytes, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def mode_gzip(self) -> None:
        """gzip when the request accepts it, as HAPI and nginx do."""
        body = json.dumps(_bundle_for(self.path)).encode()
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            self._send(gzip.compress(body), "gzip")
        else:
            self._send(body)

    def mode_at_cap(self) -> None:
        self._send(_gzipped_page(fhir_client.MAX_PAGE_BYTES), "gzip")

    def mode_bomb(self) -> None:
        self._send(_gzipped_page(fhir_client.MAX_PAGE_BYTES + 1), "gzip")

    def mode_oversize(self) -> None:
        self._send(_padded_page(fhir_client.MAX_PAGE_BYTES + 1))

    def mode_corrupt(self) -> None:
        self._send(b"not gzip at all" * 10, "gzip")

    def mode_truncated(self) -> None:
        whole = gzip.compress(json.dumps(h.searchset(h.condition("c1"))).encode())
        self._send(whole[: len(whole) // 2], "gzip")

    def mode_brotli(self) -> None:
        self._send(b"\x0b\x02\x80{}\x03", "br")

    def mode_drip(self) -> None:
        """A gzip body that never ends and never decodes to a byte: one empty block at a time."""
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", "10000000")
        self.end_headers()
        self.wfile.write(GZIP_HEADER)
        while not self.server.stop.wait(0.05):
            try:
                self.wfile.write(EMPTY_DEFLATE_BLOCK)
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, *_: Any) -> None:
        return


class _CompressingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accept_encodings: list[str | None] = []
        self.stop = threading.Event()
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def running_server() -> Iterator[_CompressingServer]:
    with serving(_CompressingServer()) as server:
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[_CompressingServer]:
    with running_server() as running:
        yield running


def _search(server: _CompressingServer, mode: str, deadline: float = 5.0) -> Any:
    client = FhirClient(f"{server.base}/{mode}", token=None, settings=SETTINGS)
    return client.run(f"Condition?patient={h.PATIENT_ID}", Deadline(deadline))


def test_a_gzip_searchset_is_decoded(server: _CompressingServer) -> None:
    result = _search(server, "gzip")
    assert result.outcome == FetchOutcome.OK, result.detail
    assert [entry["resource"]["id"] for entry in result.entries] == ["c1"]
    assert "gzip" in (server.accept_encodings[-1] or "")


def test_a_gzip_server_gives_the_record_prefetch_gives(server: _CompressingServer) -> None:
    fetched = gather_record(h.hook_request(None, fhirServer=f"{server.base}/gzip"),
                            settings=SETTINGS, templates=h.TEMPLATES)
    prefetched = gather_record(h.hook_request(h.full_prefetch()), settings=SETTINGS,
                               templates=h.TEMPLATES)
    assert fetched == prefetched
    assert fetched.conditions


def test_only_encodings_the_client_decodes_are_asked_for(server: _CompressingServer) -> None:
    _search(server, "gzip")
    offered = {part.split(";")[0].strip() for part in server.accept_encodings[-1].split(",")}
    assert offered <= {"gzip", "identity"}


def test_a_page_decoding_exactly_to_the_cap_is_accepted(server: _CompressingServer) -> None:
    result = _search(server, "at-cap")
    assert len(_gzipped_page(fhir_client.MAX_PAGE_BYTES)) < 100_000  # the wire size is small
    assert result.outcome == FetchOutcome.OK, result.detail


@pytest.mark.parametrize("mode", ["bomb", "oversize"])
def test_a_page_decoding_past_the_cap_is_refused(server: _CompressingServer, mode: str) -> None:
    result = _search(server, mode)
    assert result.outcome == FetchOutcome.FAILED
    assert result.detail == TOO_LARGE


def test_compressed_bytes_that_decode_to_nothing_cannot_stretch_the_deadline(
        server: _CompressingServer) -> None:
    started = time.monotonic()
    result = _search(server, "drip", deadline=1.0)
    elapsed = time.monotonic() - started
    assert result.outcome == FetchOutcome.FAILED
    assert result.detail == "timed out"
    assert elapsed < 1.5


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("corrupt", "the FHIR server answered a malformed gzip body"),
        ("truncated", "the FHIR server answered a malformed gzip body"),
        ("brotli", "the FHIR server answered an unsupported Content-Encoding"),
    ],
)
def test_undecodable_bodies_fail_saying_why(server: _CompressingServer, mode: str,
                                            detail: str) -> None:
    result = _search(server, mode)
    assert result.outcome == FetchOutcome.FAILED
    assert result.detail == detail


def test_concatenated_gzip_members_split_anywhere_are_decoded() -> None:
    body = gzip.compress(b'{"resourceType":') + gzip.compress(b'"Bundle"}')
    for split in range(1, len(body)):
        decoder = GzipDecoder()
        decoded = decoder.decode(body[:split], 1000) + decoder.decode(body[split:], 1000)
        decoder.finish()
        assert decoded == b'{"resourceType":"Bundle"}', split


def test_the_decoder_stops_at_its_limit() -> None:
    bomb = gzip.compress(b" " * 10_000_000)
    assert len(GzipDecoder().decode(bomb, 1001)) == 1001
