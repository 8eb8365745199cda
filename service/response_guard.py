"""A fast check of every service response, run on the request path.

The full JSON Schema check of a response (`service/schemas/service-response.json`, jsonschema)
costs 5-15 ms of CPU per response, several times the rest of the request, so on the request path
it runs only when `OSTEOCDS_VALIDATE_RESPONSES=true` (the test suite checks every response against
the schema regardless). This guard always runs, in about 0.1 ms: it covers the CDS Hooks 2.0 rules
that depend on runtime data rather than on the card builders' code paths:

- no null, empty string, empty array or empty object at any depth (`cards` itself may be empty);
- each card has `uuid`, `summary`, `indicator` and `source.label`, a summary under 140 characters
  and an indicator of `info`, `warning` or `critical`.

Problems are "<field path>: <why>" strings that never quote a value (it may be patient data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_SUMMARY_CHARS = 139
INDICATORS = frozenset({"info", "warning", "critical"})
REQUIRED_CARD_FIELDS = ("uuid", "summary", "indicator", "source")


def response_problems(response: Mapping[str, Any]) -> list[str]:
    """Every guard violation in a `{"cards": [...]}` response (empty when it passes)."""
    cards = response.get("cards")
    if not isinstance(cards, list):
        return ["cards: must be an array"]
    problems: list[str] = []
    for index, card in enumerate(cards):
        where = f"cards[{index}]"
        if not isinstance(card, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        problems.extend(_card_problems(card, where))
        if _has_empty_value(card):  # the cheap scan first; paths only when something is wrong
            _empty_values(card, where, problems)
    for key, value in response.items():
        if key != "cards":
            _empty_values(value, key, problems)
    return problems


def _card_problems(card: Mapping[str, Any], where: str) -> list[str]:
    problems = [f"{where}.{name}: is required" for name in REQUIRED_CARD_FIELDS if name not in card]
    summary = card.get("summary")
    if isinstance(summary, str) and len(summary) > MAX_SUMMARY_CHARS:
        problems.append(f"{where}.summary: must be at most {MAX_SUMMARY_CHARS} characters")
    if "indicator" in card and card["indicator"] not in INDICATORS:
        problems.append(f"{where}.indicator: must be one of info, warning, critical")
    source = card.get("source")
    if isinstance(source, Mapping) and not source.get("label"):
        problems.append(f"{where}.source.label: is required")
    return problems


def _has_empty_value(value: Any) -> bool:
    """Whether `_empty_values` would find anything (no paths built: the common, clean case)."""
    if value is None:
        return True
    if isinstance(value, dict):
        return not value or any(_has_empty_value(item) for item in value.values())
    if isinstance(value, list):
        return not value or any(_has_empty_value(item) for item in value)
    return isinstance(value, str) and not value


def _empty_values(value: Any, where: str, problems: list[str]) -> None:
    """CDS Hooks 2.0: no null / "" / [] / {} anywhere in a response."""
    if value is None:
        problems.append(f"{where}: must not be null")
    elif isinstance(value, str | list | dict) and not value:
        problems.append(f"{where}: must not be empty")
    elif isinstance(value, dict):
        for key, item in value.items():
            _empty_values(item, f"{where}.{key}", problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _empty_values(item, f"{where}[{index}]", problems)
