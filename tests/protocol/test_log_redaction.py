"""`redact`: the cheap marker test in front of the four patterns never changes what is redacted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.protocol.logging import _REDACTIONS, redact


def redact_always(text: str) -> str:
    """The four patterns applied unconditionally: what `redact` did before the marker test."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: [REDACTED]"),
        ("sent bearer abc123 upstream", "sent bearer [REDACTED] upstream"),
        ("token eyJhbGciOi.eyJzdWIiOi.c2ln here", "token [REDACTED-JWT] here"),
        ('{"access_token": "s3cret", "x": 1}', '{"access_token": "[REDACTED]", "x": 1}'),
        # re's IGNORECASE equates these with ASCII letters; the marker test must too
        ("acce\u017fs_token=s3cret", "acce\u017fs_token=[REDACTED]"),
        ("author\u0131zation: s3cret", "author\u0131zation: [REDACTED]"),
        ("author\u0130zation: s3cret", "author\u0130zation: [REDACTED]"),
        ("BEARER s3cret", "BEARER [REDACTED]"),
    ],
)
def test_secrets_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_text_without_markers_is_returned_unchanged() -> None:
    line = '{"level": "INFO", "message": "POST /cds-services/osteoporosis-patient-view 200"}'
    assert redact(line) is line


_FRAGMENTS = st.sampled_from([
    "bearer", "BeArEr", "b\u0435arer", "eyJ", "eyj", "EYJ", "access_token", "ACCESS_TOKEN",
    "acce\u017fs_token", "authorization", "AUTHORIZATION", "author\u0131zation",
    "author\u0130zation", "\u212a", "s3cret", "abc.def-ghi", "eyJhbGciOi", ".", ":", "=", " ",
    '"', "'", "\n", ",", "}", "{", "\u00e9", "token", "auth",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=12))
def test_redact_equals_the_unconditional_patterns(parts: list[str]) -> None:
    text = "".join(parts)
    assert redact(text) == redact_always(text)
