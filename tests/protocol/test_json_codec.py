"""orjson on the request path must accept, refuse and encode exactly what the standard library
does (service/jsonio.py, service/protocol/json_provider.py)."""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask, jsonify

from service import jsonio
from service.protocol.json_provider import OrjsonProvider

TEXTS_BOTH_ACCEPT = [
    b'{"a": 1, "b": [true, false, null], "c": "caf\\u00e9", "d": 2.5e-3}',
    b'{"a": 1, "a": 2}',  # duplicate key: the last one wins in both
    b'{"lone": "\\ud800"}',  # a lone surrogate: orjson refuses, the standard library accepts
    '{"utf16": "x"}'.encode("utf-16"),  # json.loads detects UTF-16 bytes
    "{\"text\": \"d\u00e9j\u00e0 vu\"}",
]


@pytest.mark.parametrize("text", TEXTS_BOTH_ACCEPT)
def test_loads_accepts_what_the_standard_library_accepts(text: bytes | str) -> None:
    assert jsonio.loads(text) == json.loads(text)
    assert jsonio.loads_strict(text) == json.loads(text)


def test_integers_beyond_64_bits_read_as_the_float_the_record_would_make_of_them() -> None:
    # The one difference from json.loads (documented in service/jsonio.py): every number the
    # record reads becomes a float anyway (service.record.parse.parse_quantity).
    big = 123456789012345678901234567890
    assert jsonio.loads(f'{{"big": {big}}}'.encode()) == {"big": float(big)}


@pytest.mark.parametrize("text", [b'{"a": }', b"[1,]", b"", b"\xff", b'{"a": 1} x', b"{'a': 1}"])
def test_refusals_carry_the_standard_librarys_message(text: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as ours:
        jsonio.loads_strict(text)
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_constants_are_refused_strictly_and_read_otherwise(constant: str) -> None:
    text = f'{{"value": {constant}}}'.encode()
    with pytest.raises(ValueError, match="is not JSON"):
        jsonio.loads_strict(text)
    value = jsonio.loads(text)["value"]
    assert math.isnan(value) if constant == "NaN" else math.isinf(value)


def _app() -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    return app


@pytest.mark.parametrize("value", [
    {"cards": [{"summary": "Romosozumab 210 mg \u2013 12 doses", "n": 1, "x": 0.5}]},
    {"z": 1, "a": 2},  # key order kept, not sorted
    {"big": 2**70},  # orjson cannot encode it: the default provider does
    {1: "non-string key"},  # likewise
    {"day": date(2026, 11, 22), "price": Decimal("1.50")},  # Flask's own `default`
])
def test_responses_carry_the_same_json_as_flasks_default_provider(value: dict) -> None:
    app = _app()
    reference = Flask(__name__)
    reference.json.sort_keys = False  # type: ignore[attr-defined]
    with app.app_context():
        ours = jsonify(value)
    with reference.app_context():
        theirs = jsonify(value)
    assert ours.mimetype == theirs.mimetype == "application/json"
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
    assert list(json.loads(ours.get_data())) == list(json.loads(theirs.get_data()))
    assert ours.get_data().endswith(b"\n")


def test_the_hook_route_sends_utf8_not_escapes(client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert b"\\u" not in response.get_data()
    assert json.loads(response.get_data())["services"]
