"""`cards.card.prune`: the card's last step, dropping every empty value at any depth.

The walk is written for speed (exact-type dispatch, two typed helpers); this checks it against a
plain reference definition on generated JSON-like values, tuples and subclasses included."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.card import prune


def reference_prune(value: Any) -> Any:
    """The definition: None, "", [] and {} are dropped, recursively; tuples become lists."""
    if isinstance(value, dict):
        kept = {key: reference_prune(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not _is_empty(item)}
    if isinstance(value, list | tuple):
        return [item for item in map(reference_prune, value) if not _is_empty(item)]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


class Text(str):
    """A str subclass: pruned by value like a str."""


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
    st.sampled_from(["", "a", "uuid"]), st.builds(Text, st.sampled_from(["", "t"])),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=3).map(OrderedDict),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_prune_matches_the_reference_definition(value: Any) -> None:
    assert prune(value) == reference_prune(value)


def test_prune_keeps_false_and_zero_and_drops_every_empty_level() -> None:
    card = {
        "summary": "s", "detail": "", "source": {"label": "L", "url": None, "topic": {}},
        "suggestions": [{"label": "x", "actions": [{"resource": {"note": [], "dose": 0}}]},
                        {"actions": ({"resource": {"a": ""}},)}],
        "isRecommended": False,
    }
    assert prune(card) == {
        "summary": "s", "source": {"label": "L"},
        "suggestions": [{"label": "x", "actions": [{"resource": {"dose": 0}}]}],
        "isRecommended": False,
    }


def test_prune_returns_new_containers_and_leaves_its_input_alone() -> None:
    original = {"a": [{"b": None, "c": "1"}], "d": ("", "e")}
    result = prune(original)
    assert result == {"a": [{"c": "1"}], "d": ["e"]}
    assert original == {"a": [{"b": None, "c": "1"}], "d": ("", "e")}
    assert type(result["d"]) is list
