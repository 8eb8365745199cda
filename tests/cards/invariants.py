"""Checks every card the tests generate must pass (CDS Hooks 2.0 and issue 5 rules)."""

from __future__ import annotations

from typing import Any

from cards.card import ELLIPSIS
from cards.wording import OVERRIDE_SYSTEM, TOPIC_DISPLAY, TOPIC_SYSTEM


def empty_paths(value: Any, path: str = "$") -> list[str]:
    """Paths of null / empty string / empty array / empty object values."""
    if value is None or (isinstance(value, str | list | dict) and len(value) == 0):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_paths(v, f"{path}[{i}]")]
    return []


def check_card(card: dict[str, Any]) -> None:
    """Assert the card rules; raises AssertionError naming the broken rule."""
    assert empty_paths(card) == [], empty_paths(card)
    assert len(card["summary"]) < 140, card["summary"]
    assert not card["summary"].endswith(ELLIPSIS), f"summary needed truncation: {card['summary']}"
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["uuid"]
    topic = card["source"]["topic"]
    assert topic["system"] == TOPIC_SYSTEM
    assert topic["display"] == TOPIC_DISPLAY[topic["code"]]
    assert card["source"]["label"]
    assert card["detail"].strip()
    reasons = card["overrideReasons"]
    assert {r["code"] for r in reasons} == {
        "patient-declined", "already-on-alternative", "cv-risk-acceptable", "cv-risk-too-high",
        "cost-or-coverage", "other"}
    assert all(r["system"] == OVERRIDE_SYSTEM and r["display"] for r in reasons)
    for link in card.get("links", []):
        assert link["url"].startswith(("https://", "http://")), link
        assert link["type"] == "absolute"
    if "suggestions" in card:
        assert card["selectionBehavior"] == "at-most-one"
        assert sum(bool(s.get("isRecommended")) for s in card["suggestions"]) <= 1
        for suggestion in card["suggestions"]:
            assert suggestion["uuid"]
            assert suggestion["label"]
            for action in suggestion["actions"]:
                assert action["description"]
                if action["type"] == "delete":
                    assert action["resourceId"].startswith("MedicationRequest/")
                else:
                    assert action["resource"]["resourceType"] == "MedicationRequest"
    else:
        assert "selectionBehavior" not in card


def check_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uuids = [c["uuid"] for c in cards] + [
        s["uuid"] for c in cards for s in c.get("suggestions", [])]
    assert len(uuids) == len(set(uuids)), "uuids repeat within one response"
    for card in cards:
        check_card(card)
    return cards


def topics(cards: list[dict[str, Any]]) -> list[str]:
    return [c["source"]["topic"]["code"] for c in cards]


def by_topic(cards: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    matches = [c for c in cards if c["source"]["topic"]["code"] == topic]
    assert len(matches) == 1, f"{topic}: {topics(cards)}"
    return matches[0]


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for s in card.get("suggestions", []) for a in s["actions"]]


def created_codes(card: dict[str, Any]) -> list[str]:
    return [a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
            for a in actions(card) if a["type"] == "create"]
