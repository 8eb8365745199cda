"""The access line written straight to the JSON handler equals the line the logging machinery
writes, and the logging configuration still decides: any other handler or filter on the way
sends the line through `logging` instead."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from service.protocol import logging as service_logging
from service.protocol.logging import HANDLER_NAME, configure_logging

ACCESS = logging.getLogger("osteocds.access")


@pytest.fixture
def json_stream() -> Iterator[io.StringIO]:
    """`configure_logging("INFO")` writing to a buffer. pytest adds its capture handlers to the
    root logger after the fixtures run: each test calls `_alone()` first to set them aside."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_switches = (logging.logMultiprocessing, logging._srcfile)  # type: ignore[attr-defined]
    stream = io.StringIO()
    root.handlers = []
    configure_logging("INFO")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        logging.logMultiprocessing, logging._srcfile = saved_switches  # type: ignore[attr-defined]


def _alone() -> logging.Handler:
    """Leave the JSON handler alone on the root logger (as `osteocds serve` runs); returns it."""
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    return root.handlers[0]


def _access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in entries if entry["logger"] == "osteocds.access"]


def _through_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_logging, "_sole_json_handler", lambda logger: None)


def _call(app: Flask, path: str, **headers: str) -> int:
    return app.test_client().post(path, json={}, headers=headers).status_code


@pytest.mark.parametrize("path", ["/cds-services/osteoporosis-order-select",
                                  "/cds-services/no-such-service",
                                  "/cds-services/Bearer abcdef0123"])
def test_the_direct_line_equals_the_logging_line(
        make_app: Callable[..., Flask], json_stream: io.StringIO,
        monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    app = make_app()
    handler = _alone()
    assert service_logging._sole_json_handler(ACCESS) is handler
    status = _call(app, path, **{"X-Request-Id": "req-1"})
    with monkeypatch.context() as patch:
        _through_logging(patch)
        assert _call(app, path, **{"X-Request-Id": "req-1"}) == status
    direct, logged = _access_lines(json_stream)
    for entry in (direct, logged):
        assert entry.pop("duration_ms") >= 0
        assert entry.pop("time").endswith("Z")
    assert list(direct.items()) == list(logged.items())  # the same fields, in the same order
    assert direct["request_id"] == "req-1"
    assert direct["status"] == status
    assert "abcdef0123" not in json_stream.getvalue()  # a token-like path is redacted too


def test_the_hook_instance_is_on_the_direct_line(
        make_app: Callable[..., Flask], json_stream: io.StringIO) -> None:
    from tests.protocol.examples import hook_request

    body = hook_request("order-select")
    _alone()
    response = make_app().test_client().post(
        "/cds-services/osteoporosis-order-select", json=body)
    assert response.status_code == 200
    [line] = _access_lines(json_stream)
    assert line["hook_instance"] == body["hookInstance"]
    assert line["message"] == "POST /cds-services/osteoporosis-order-select 200"


def test_the_time_is_formatted_as_the_formatter_formats_it(
        json_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _alone()
    moment = 1_700_000_059.9995
    monkeypatch.setattr(service_logging.time, "time", lambda: moment)
    service_logging._write_access_line(handler, "GET / 200", {"status": 200})  # type: ignore[arg-type]
    record = logging.makeLogRecord({"name": "osteocds.access", "msg": "GET / 200"})
    record.created, record.msecs = moment, (moment - int(moment)) * 1000
    [direct] = _access_lines(json_stream)
    through_formatter = json.loads(handler.format(record))["time"]
    assert direct["time"] == through_formatter == "2023-11-14T22:14:19.999Z"


def test_a_filter_on_the_access_logger_is_obeyed(
        make_app: Callable[..., Flask], json_stream: io.StringIO) -> None:
    app = make_app()
    _alone()

    class DropAll(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return False

    dropping = DropAll()
    ACCESS.addFilter(dropping)
    try:
        assert service_logging._sole_json_handler(ACCESS) is None
        assert _call(app, "/cds-services/osteoporosis-order-select") == 400
    finally:
        ACCESS.removeFilter(dropping)
    assert _access_lines(json_stream) == []


def test_another_handler_gets_the_line_too(
        make_app: Callable[..., Flask], json_stream: io.StringIO) -> None:
    app = make_app()
    _alone()
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Collect()
    logging.getLogger().addHandler(extra)
    try:
        assert service_logging._sole_json_handler(ACCESS) is None
        _call(app, "/cds-services/osteoporosis-order-select")
    finally:
        logging.getLogger().removeHandler(extra)
    assert [r.getMessage() for r in seen if r.name == "osteocds.access"] == [
        "POST /cds-services/osteoporosis-order-select 400"]
    assert len(_access_lines(json_stream)) == 1


@pytest.mark.parametrize("change", ["handler level", "handler filter", "formatter",
                                    "not propagating", "handler below the root", "renamed"])
def test_any_other_configuration_goes_through_logging(
        json_stream: io.StringIO, change: str) -> None:
    handler = _alone()
    parent = logging.getLogger("osteocds")
    below = logging.NullHandler()
    undo: Callable[[], None]
    if change == "handler level":
        handler.setLevel(logging.WARNING)
        undo = lambda: handler.setLevel(logging.NOTSET)  # noqa: E731
    elif change == "handler filter":
        extra = logging.Filter("somewhere")
        handler.addFilter(extra)
        undo = lambda: handler.removeFilter(extra)  # noqa: E731
    elif change == "formatter":
        formatter = handler.formatter
        handler.setFormatter(logging.Formatter())
        undo = lambda: handler.setFormatter(formatter)  # noqa: E731
    elif change == "not propagating":
        parent.propagate = False
        undo = lambda: setattr(parent, "propagate", True)  # noqa: E731
    elif change == "handler below the root":
        parent.addHandler(below)
        undo = lambda: parent.removeHandler(below)  # noqa: E731
    else:
        handler.set_name("someone-else")
        undo = lambda: handler.set_name(HANDLER_NAME)  # noqa: E731
    try:
        assert service_logging._sole_json_handler(ACCESS) is None
    finally:
        undo()
    assert service_logging._sole_json_handler(ACCESS) is handler


def test_debug_level_keeps_the_http_client_libraries_quiet(json_stream: io.StringIO) -> None:
    """At DEBUG, urllib3 would log every FHIR request line, and the patient read puts the id in
    the path ("GET /fhir/Patient/<id>"): those loggers stay at WARNING (an ops audit saw the id)."""
    _alone()
    saved = {name: logging.getLogger(name).level for name in ("urllib3", "requests")}
    try:
        configure_logging("DEBUG")
        [handler] = logging.getLogger().handlers
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(json_stream)
        logging.getLogger("urllib3.connectionpool").debug(
            '%s "GET /fhir/Patient/%s HTTP/1.1" 200', "http://ehr", "PID-SECRET-4711")
        logging.getLogger("osteocds.test").debug("still at debug")
        assert "PID-SECRET-4711" not in json_stream.getvalue()
        assert "still at debug" in json_stream.getvalue()
        assert logging.getLogger("urllib3").level == logging.WARNING
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
