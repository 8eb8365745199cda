"""gunicorn's own log lines (start-up, workers, requests it cannot parse) come out as the
service's redacted JSON lines: docs/operations.md promises one JSON object per line and no query
string, and gunicorn echoes a request line it refuses, query string and all.

The process test runs the real `osteocds serve --dev` and speaks broken HTTP to it over a raw
socket; the unit tests feed the redaction filter the messages gunicorn writes."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from service.protocol.logging import JsonFormatter, RedactionFilter, drop_query_strings
from tests.live_service import running_service
from tests.waiting import wait_for

SECRET = "SECRET123"
# Each makes gunicorn refuse the request and log a warning quoting what it read.
BROKEN_REQUESTS = (
    b"GET /cds-services?patient=" + SECRET.encode() + b"\r\n\r\n",  # no HTTP version
    b"GET  /cds-services?patient=" + SECRET.encode() + b" HTTP/1.1\r\n\r\n",  # empty target
    b"GET /cds-services?patient=" + SECRET.encode() + b" HTTP/1.1 junk\r\n\r\n",  # bad version
)


def _send_raw(port: int, request: bytes) -> bytes:
    """One request over a fresh connection; the first bytes of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(1024)


def _entries(log: str) -> list[dict[str, Any]]:
    """Every line of the log as a JSON object (fails on the first line that is not one)."""
    entries = []
    for line in log.splitlines():
        if line.strip():
            entry = json.loads(line)  # raises on a plain-text line
            assert isinstance(entry, dict), line
            entries.append(entry)
    return entries


@pytest.mark.integration
def test_gunicorn_lines_are_json_without_the_query_string(tmp_path: Path) -> None:
    with running_service(tmp_path, args=("--dev", "--workers", "1"),
                         env={"OSTEOCDS_LOG_LEVEL": "INFO"}) as service:
        port = int(service.base_url.rsplit(":", 1)[1])
        for request in BROKEN_REQUESTS:
            assert _send_raw(port, request).startswith(b"HTTP/1.1 400 ")
        assert wait_for(lambda: service.log().count("Invalid request from") == len(
            BROKEN_REQUESTS)), service.log()[-3000:]
    log = service.log()  # after the block: the shutdown lines are in it too
    assert SECRET not in log
    entries = _entries(log)
    gunicorn = [entry for entry in entries if entry["logger"] == "gunicorn.error"]
    messages = [entry["message"] for entry in gunicorn]
    assert any(m.startswith("Starting gunicorn") for m in messages), messages
    assert any(m.startswith("Booting worker") for m in messages), messages
    refused = [e for e in gunicorn if "Invalid HTTP request line" in e["message"]]
    assert len(refused) == 2, messages
    assert all(entry["level"] == "WARNING" for entry in refused)
    assert "GET /cds-services?[REDACTED]" in refused[0]["message"]


def _rendered(message: str, *args: object) -> dict[str, Any]:
    """`message % args` through the JSON handler's redaction filter and formatter."""
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, message, args, None)
    assert RedactionFilter().filter(record)
    entry: dict[str, Any] = json.loads(JsonFormatter().format(record))
    return entry


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        ("Error handling request %s", ("/cds-services/x?patient=SECRET123",),
         "Error handling request /cds-services/x?[REDACTED]"),
        ("Invalid request from ip=127.0.0.1: Invalid HTTP request line: "
         "'GET /cds-services?patient=SECRET123'", (),
         "Invalid request from ip=127.0.0.1: Invalid HTTP request line: "
         "'GET /cds-services?[REDACTED]'"),
        # a quote inside the query string is not taken for repr's closing quote
        ("Invalid HTTP request line: %r", ("GET /x?name=O'SECRET123&b=2",),
         "Invalid HTTP request line: \"GET /x?[REDACTED]\""),
        # repr's escapes of control bytes do not end the query string
        ("Invalid HTTP request line: %r", ("GET /x?a=\x01SECRET123",),
         "Invalid HTTP request line: 'GET /x?[REDACTED]'"),
        ('%s - - "%s" 200', ("127.0.0.1", "GET /x?patient=SECRET123 HTTP/1.1"),
         '127.0.0.1 - - "GET /x?[REDACTED] HTTP/1.1" 200'),
        ("two: /a?x=SECRET123 and /b?y=SECRET123", (),
         "two: /a?[REDACTED] and /b?[REDACTED]"),
    ],
)
def test_query_strings_are_dropped_from_messages(message: str, args: tuple[object, ...],
                                                 expected: str) -> None:
    entry = _rendered(message, *args)
    assert entry["message"] == expected
    assert SECRET not in json.dumps(entry)


@pytest.mark.parametrize("text", [
    "build: interpreted",
    "is the FHIR server up? it answered 503",
    "a question at the end?",
    "POST /cds-services/osteoporosis-order-select 200",
])
def test_text_without_a_query_string_is_unchanged(text: str) -> None:
    assert drop_query_strings(text) == text
