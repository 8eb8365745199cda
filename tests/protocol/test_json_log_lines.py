"""The JSON log lines: fields, UTC millisecond timestamps, redaction, exceptions, and values
orjson refuses."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import pytest

from service.protocol.logging import HANDLER_NAME, JsonFormatter, configure_logging


def _record(message: str, *args: object, created: float | None = None, **extra: object,
            ) -> logging.LogRecord:
    record = logging.LogRecord("osteocds.test", logging.INFO, __file__, 1, message, args, None)
    if created is not None:
        record.created = created
        record.msecs = (created - int(created)) * 1000
    record.__dict__.update(extra)
    return record


def test_a_line_carries_the_message_and_the_known_fields_only() -> None:
    line = JsonFormatter().format(_record("%s %s %s", "POST", "/cds-services/x", 200,
                                          method="POST", status=200, duration_ms=1.5,
                                          request_id="r-1", unrelated="not logged"))
    entry = json.loads(line)
    assert entry == {"time": entry["time"], "level": "INFO", "logger": "osteocds.test",
                     "message": "POST /cds-services/x 200", "method": "POST", "status": 200,
                     "duration_ms": 1.5, "request_id": "r-1"}


@pytest.mark.parametrize("created", [0.0, 1_700_000_000.0015, 1_700_000_059.999, 1_800_000_000.5])
def test_the_time_is_utc_to_the_millisecond(created: float) -> None:
    formatter = JsonFormatter()
    formatter.format(_record("warm the cache", created=created - 1))  # another second first
    entry = json.loads(formatter.format(_record("x", created=created)))
    moment = datetime.fromtimestamp(created, UTC)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{int(moment.microsecond / 1000):03d}Z"
    assert entry["time"] == expected


def test_secrets_in_messages_and_tracebacks_are_redacted() -> None:
    token = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
    try:
        raise ValueError(f"Authorization: Bearer {token}")
    except ValueError:
        record = _record("call failed with Bearer %s", token)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert token not in line
    entry = json.loads(line)
    assert entry["message"] == "call failed with Bearer [REDACTED]"
    assert "ValueError" in entry["exception"]


def test_values_orjson_refuses_are_still_written() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque value"

    entry = json.loads(JsonFormatter().format(_record("x", status=2**70, reason=Opaque())))
    assert entry["status"] == 2**70
    assert entry["reason"] == "opaque value"


def test_non_ascii_text_is_written_as_utf8_json() -> None:
    entry = json.loads(JsonFormatter().format(_record("Ménière: %s", "ß")))
    assert entry["message"] == "Ménière: ß"


def test_configure_logging_skips_the_caller_lookup_and_keeps_process_ids(capsys) -> None:  # type: ignore[no-untyped-def]
    """Records keep what other formatters print: gunicorn's error log formats `%(process)d`
    (a None there was a "--- Logging error ---" for every gunicorn line)."""
    saved = (logging.logMultiprocessing, logging._srcfile)  # type: ignore[attr-defined]
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("INFO")
        assert logging.logMultiprocessing is False
        assert logging._srcfile is None  # type: ignore[attr-defined]
        logging.getLogger("osteocds.test").info("hello %s", "world", extra={"status": 201})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert {"message": "hello world", "status": 201}.items() <= lines[-1].items()
        record = logging.getLogger("gunicorn.error").makeRecord(
            "gunicorn.error", logging.INFO, "(unknown file)", 0, "Starting gunicorn %s",
            ("23.0.0",), None)
        gunicorn_style = logging.Formatter(
            "%(asctime)s [%(process)d] [%(thread)d] [%(levelname)s] %(message)s "
            "%(lineno)d %(processName)s")
        assert "Starting gunicorn 23.0.0" in gunicorn_style.format(record)
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == HANDLER_NAME:
                root.removeHandler(handler)
        root.setLevel(level)
        logging.logMultiprocessing, logging._srcfile = saved  # type: ignore[attr-defined]


def test_each_request_logs_one_access_line_unless_info_is_off(make_app, caplog) -> None:  # type: ignore[no-untyped-def]
    client = make_app().test_client()
    caplog.set_level("INFO", logger="osteocds.access")
    response = client.get("/cds-services", headers={"X-Request-Id": "req-7"})
    assert response.headers["X-Request-Id"] == "req-7"
    [line] = [r for r in caplog.records if r.name == "osteocds.access"]
    assert line.getMessage() == "GET /cds-services 200"
    assert (line.method, line.path, line.status) == ("GET", "/cds-services", 200)
    assert line.duration_ms >= 0
    caplog.clear()
    caplog.set_level("WARNING", logger="osteocds.access")
    assert client.get("/cds-services").status_code == 200
    assert [r for r in caplog.records if r.name == "osteocds.access"] == []
