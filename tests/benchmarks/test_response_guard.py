"""The response checks on the request path: the fast guard always, the full JSON Schema check
only with `validate_responses` (a performance setting, docs/performance.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from service.hooks import HookContext
from service.response_guard import response_problems
from tests.conftest import assert_operation_outcome, post_json
from tests.protocol.examples import full_card, hook_request
from tests.strategies import JSON_VALUES

ORDER_SELECT = "/cds-services/osteoporosis-order-select"


def _card() -> dict:
    return {
        "uuid": "6f1c1a52-4a8e-4c55-9b1e-2f0f3a0f1d11",
        "summary": "A summary",
        "indicator": "info",
        "source": {"label": "osteocds", "topic": {"system": "urn:x", "code": "c"}},
    }


def test_a_valid_response_passes_the_guard() -> None:
    assert response_problems({"cards": [_card()]}) == []
    assert response_problems({"cards": []}) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"summary": "x" * 140}, "cards[0].summary: must be at most 139 characters"),
        ({"indicator": "hint"}, "cards[0].indicator: must be one of info, warning, critical"),
        ({"detail": ""}, "cards[0].detail: must not be empty"),
        ({"links": []}, "cards[0].links: must not be empty"),
        ({"source": {"label": "x", "topic": {}}}, "cards[0].source.topic: must not be empty"),
        ({"suggestions": [{"label": None}]}, "cards[0].suggestions[0].label: must not be null"),
        ({"source": {"url": "https://x.org"}}, "cards[0].source.label: is required"),
    ],
)
def test_the_guard_names_the_field_and_rule(change: dict, problem: str) -> None:
    assert problem in response_problems({"cards": [{**_card(), **change}]})


def _holds_an_empty_value(value: Any) -> bool:
    """The rule itself, written plainly: null, "", [] or {} anywhere."""
    if value is None or (isinstance(value, str | list | dict) and not value):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(_holds_an_empty_value(item) for item in items)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_guard_finds_every_empty_value_at_any_depth(value: Any) -> None:
    # The guard names paths only after its fast scan says something is empty: a scan that
    # missed one would let the response through.
    problems = response_problems({"cards": [{**_card(), "extension": value}]})
    named = [problem for problem in problems if problem.startswith("cards[0].extension")]
    assert bool(named) == _holds_an_empty_value(value)
    assert len(named) == len(problems)


def test_the_guard_requires_the_card_fields() -> None:
    card = _card()
    del card["uuid"]
    assert response_problems({"cards": [card]}) == ["cards[0].uuid: is required"]
    assert response_problems({"cards": None}) == ["cards: must be an array"]


def _with_bad_uuid(context: HookContext) -> list:
    card = full_card(context)[0]
    card["uuid"] = "not-a-uuid"  # the schema's uuid pattern; the guard does not check formats
    return [card]


def test_full_schema_check_on_the_request_path_is_a_setting(make_app) -> None:
    checked = make_app(card_producers=[_with_bad_uuid], validate_responses=True).test_client()
    assert_operation_outcome(post_json(checked, ORDER_SELECT, hook_request("order-select")), 500)
    unchecked = make_app(card_producers=[_with_bad_uuid]).test_client()
    with pytest.raises(AssertionError, match="uuid"):  # the tests' own client still checks
        post_json(unchecked, ORDER_SELECT, hook_request("order-select"))


def test_the_guard_refuses_a_long_summary_without_the_full_schema(make_app) -> None:
    def long_summary(context: HookContext) -> list:
        card = full_card(context)[0]
        card["summary"] = "x" * 200
        return [card]

    client = make_app(card_producers=[long_summary]).test_client()
    assert_operation_outcome(post_json(client, ORDER_SELECT, hook_request("order-select")), 500)
