"""Structured JSON logs with a request id and the `hookInstance`, and a redaction filter.

- `configure_logging(level)` sends every logger to stderr as one JSON object per line; the serve
  command calls it at start-up.
- `install_request_logging(app)` gives each request an id (a well-formed `X-Request-Id` header or a
  new UUID), echoes it in the response header and logs one access line (method, path, status,
  duration; never the body, the query string or headers). When `configure_logging`'s handler is
  the only one the line would reach, the line is written to it directly, byte for byte what the
  logging machinery would write, at a third of the cost (`_log_access`).
- `RedactionFilter` is the last line of defence: bearer tokens, JWTs and `access_token` values are
  replaced in every message and traceback, and query strings are dropped from every message
  (gunicorn quotes a request line it refuses, query string and patient id included). The first
  line is never logging bodies or query strings at all.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

import orjson
from flask import Flask, Response, g, has_request_context, request

from service.ids import uuid4_hex

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 [REDACTED]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    (re.compile(r"""(?i)(["']?access_token["']?\s*[:=]\s*["']?)[^"'&\s,}]+"""), r"\1[REDACTED]"),
    (re.compile(r"""(?i)(["']?authorization["']?\s*[:=]\s*["']?)[^"'\n,}]+"""), r"\1[REDACTED]"),
)
# A query string in a message: "?" and what follows up to the next whitespace or the end. A quote
# ending it is kept: it closes the repr gunicorn puts around a request line it refused.
_QUERY_STRING = re.compile(r"\?\S+?(['\"]?)(?=\s|$)")
_QUERY_STRING_REPLACEMENT = r"?[REDACTED]\1"
_EXTRA_FIELDS = ("auth_reason", "method", "path", "status", "duration_ms", "jwks_url", "reason",
                 "kid", "service_id", "hook")
HANDLER_NAME = "osteocds-json"
# Looked up once: `logging.getLogger` takes the logging module's lock, which every worker
# thread would otherwise queue on at the end of every request.
_ACCESS_LOG = logging.getLogger("osteocds.access")


# Each redaction pattern needs one of these words (case-insensitively); a text holding none of
# them is returned as it is, after one cheap test instead of four regular-expression scans
# (~47 us for an access line). `re`'s IGNORECASE also equates the dotted and dotless i with
# "i", the long s with "s" and the Kelvin sign with "k": the text is folded the same way first.
_TO_PLAIN_I = str.maketrans({"\u0130": "i", "\u0131": "i"})


def redact(text: str) -> str:
    """`text` with bearer tokens, JWTs, access tokens and Authorization values replaced."""
    if not _may_hold_secret(text):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _may_hold_secret(text: str) -> bool:
    """False only when no redaction pattern can match `text` (a cheap superset test)."""
    folded = text.lower() if text.isascii() else text.translate(_TO_PLAIN_I).casefold()
    return ("bearer" in folded or "eyj" in folded or "access_token" in folded
            or "authorization" in folded)


def drop_query_strings(text: str) -> str:
    """`text` with every URL query string replaced by `?[REDACTED]`: docs/operations.md promises
    that query strings (which can hold a patient id) are never logged.

    Applied to a message before it becomes JSON, not to the JSON text: a query string in a
    message may hold backslashes (repr's escapes), which in JSON text escape the quote after."""
    if "?" not in text:
        return text
    return _QUERY_STRING.sub(_QUERY_STRING_REPLACEMENT, text)


def redact_message(message: str) -> str:
    """A log message as every line shows it: query strings dropped, secrets redacted."""
    return redact(drop_query_strings(message))


class RedactionFilter(logging.Filter):
    """Redacts the rendered message of every record (and drops its args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact_message(message), None
        return True


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `hook_instance` of the current request to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.__dict__.update(_request_context_fields())
        return True


def _request_context_fields() -> dict[str, Any]:
    """What every line of a request carries (inside a request context)."""
    return {"request_id": g.get("request_id"), "hook_instance": g.get("hook_instance")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (UTF-8, compact, `time` in UTC to the millisecond); the final
    text passes through `redact`. orjson writes it (json.dumps for what orjson refuses, such as an
    integer beyond 64 bits); the seconds of the timestamp are formatted once per second."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.timestamp(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _RECORD_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return render_entry(entry)

    def _utc_second(self, created: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._second = cached
        return cached[1]

    def timestamp(self, created: float, msecs: float) -> str:
        """`time` of a line: UTC to the millisecond (`msecs` as `LogRecord` computes it)."""
        return f"{self._utc_second(created)}.{int(msecs):03d}Z"


def render_entry(entry: dict[str, Any]) -> str:
    """One log line's text: compact UTF-8 JSON, redacted (`json.dumps` for what orjson refuses,
    such as an integer beyond 64 bits)."""
    try:
        text = orjson.dumps(entry, default=str).decode()
    except TypeError:
        text = json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))
    return redact(text)


_RECORD_FIELDS = ("request_id", "hook_instance", *_EXTRA_FIELDS)
# The filters `configure_logging` gives its handler, in order (`_configured_as_installed` checks
# for exactly these).
_JSON_HANDLER_FILTERS = (RequestContextFilter, RedactionFilter)


def configure_logging(level: str = "INFO") -> None:
    """Route every logger to stderr as redacted JSON lines (idempotent).

    Records skip the two lookups no line shows (the logging HOWTO's "Optimization"): the
    calling file and line (no stack walk; `lineno` reads 0) and the multiprocessing process
    name (None). Thread and process ids stay. gunicorn's own loggers reach this handler through
    `service.commands.serve.GunicornLogger`."""
    logging.logMultiprocessing = False
    logging._srcfile = None  # type: ignore[attr-defined]
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    for kind in _JSON_HANDLER_FILTERS:
        handler.addFilter(kind())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in PATH_LOGGING_LIBRARIES:  # their DEBUG lines carry request paths: Patient/<id>
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


# HTTP client libraries whose DEBUG lines print each request's path, where the FHIR read puts the
# patient's id; held at WARNING whatever OSTEOCDS_LOG_LEVEL says
PATH_LOGGING_LIBRARIES = ("urllib3", "requests")


def install_request_logging(app: Flask) -> None:
    """Request ids and access lines; the id hook runs before every other `before_request`."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)


def start_request_clock() -> None:
    """Start the request's clock unless an earlier hook did: the access line and the request
    metrics (`service.protocol.metrics`) time the same span, from the first hook."""
    if "request_started" not in g:
        g.request_started = time.perf_counter()


def request_seconds() -> float | None:
    """Seconds since `start_request_clock` (None when it did not run for this request)."""
    started = g.get("request_started")
    return time.perf_counter() - started if started is not None else None


def _start_request() -> None:
    supplied = request.headers.get("X-Request-Id", "")
    g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid4_hex()
    start_request_clock()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    if _ACCESS_LOG.isEnabledFor(logging.INFO):
        _log_access(response.status_code)
    return response


def _log_access(status: int) -> None:
    """The request's access line: written straight to the service's JSON handler when that
    handler alone would write it, through `logging` otherwise (other handlers, filters)."""
    seconds = request_seconds()
    method, path = request.method, request.path
    fields = {"method": method, "path": path, "status": status,
              "duration_ms": round(seconds * 1000, 1) if seconds is not None else None}
    handler = _sole_json_handler(_ACCESS_LOG)
    if handler is None:
        _ACCESS_LOG.info("%s %s %s", method, path, status, extra=fields)
        return
    fields.update(_request_context_fields())  # as `RequestContextFilter` adds them
    _write_access_line(handler, f"{method} {path} {status}", fields)


def _sole_json_handler(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The handler `configure_logging` installed, when it is the only one `logger`'s records
    reach and nothing else would see them: no filter on `logger`, no handler below the root,
    the JSON handler alone on the root, as configured (`_configured_as_installed`)."""
    if logger.filters:
        return None
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            if current.parent is not None or len(current.handlers) != 1:
                return None
            handler = current.handlers[0]
            return handler if _configured_as_installed(handler) else None
        if not current.propagate:
            return None
        current = current.parent
    return None


def _configured_as_installed(handler: logging.Handler) -> bool:
    """`handler` is `configure_logging`'s, unchanged: its name, a stream, INFO lines let through,
    the JSON formatter and exactly its two filters."""
    return (isinstance(handler, logging.StreamHandler) and handler.get_name() == HANDLER_NAME
            and handler.level <= logging.INFO and isinstance(handler.formatter, JsonFormatter)
            and tuple(type(f) for f in handler.filters) == _JSON_HANDLER_FILTERS)


def _write_access_line(handler: logging.StreamHandler[Any], message: str,
                       fields: dict[str, Any]) -> None:
    """The access line as the logging machinery writes it through `configure_logging`'s handler
    (the message redacted, the fields in `JsonFormatter`'s order, the whole text redacted),
    under the handler's lock, without a `LogRecord`, its filters and a formatter call: ~4 us
    instead of ~14 (docs/performance.md, "Round 9")."""
    formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
    created = time.time()
    entry: dict[str, Any] = {
        "time": formatter.timestamp(created, (created - int(created)) * 1000),
        "level": "INFO",
        "logger": _ACCESS_LOG.name,
        "message": redact_message(message),
    }
    for name in _RECORD_FIELDS:
        value = fields.get(name)
        if value is not None:
            entry[name] = value
    try:
        text = render_entry(entry)
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(text + handler.terminator)
            handler.flush()
    except Exception:
        handler.handleError(logging.makeLogRecord({"msg": message, "name": _ACCESS_LOG.name}))
