"""When only criteria that other guidelines draw differently are met (a low T-score, FRAX or age
without a fracture), the card says where they differ, with the sources and their verification
level (research 1.7; P16: "note other guidelines would not call this very high risk without
fracture", P17: "flag: NOGG requires <= -3.5, Endocrine Soc requires a fracture")."""

from __future__ import annotations

from typing import Any

import pytest

from service.knowledge import load_knowledge
from tests.personas.calls import persona_cards, the_card

HEADING = "**Other guidelines differ**"


def proposal(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return the_card(cards, "romosozumab-proposal")


def note(rule_id: str) -> str:
    other = load_knowledge().rule(rule_id).other_guidelines
    assert other is not None
    return other.text


@pytest.mark.parametrize(("persona", "rule_id", "source"), [
    ("p16", "very-high-risk.frax", "IOF/ESCEO 2020"),
    ("p17", "very-high-risk.very-low-t-score", "NOGG 2022"),
    ("p06", "very-high-risk.older-age", "Research 1.7"),
])
@pytest.mark.parametrize(("hook", "draft"), [("patient-view", None),
                                             ("order-select", "alendronate")])
def test_a_proposal_resting_on_a_disputed_criterion_says_where_guidelines_differ(
    make_app, persona, rule_id, source, hook, draft,
):
    detail = proposal(persona_cards(make_app, persona, hook, draft))["detail"]
    assert HEADING in detail
    section = detail.split(HEADING, 1)[1].split("\n\n", 2)[0]
    label = load_knowledge().rule(rule_id).label
    assert f"- {label}: {note(rule_id)} [U]" in section
    sources = detail.split("**Sources**", 1)[1]
    assert source in sources
    # the section comes after the criteria it qualifies
    assert detail.index("**Criteria met (this patient)**") < detail.index(HEADING)


@pytest.mark.parametrize(("persona", "hook", "draft"), [
    ("p01", "patient-view", None),            # recent fracture on alendronate, and T -3.2
    ("p01", "order-select", "alendronate"),
    ("p18", "patient-view", None),            # a recent hip fracture
])
def test_an_undisputed_criterion_met_no_section(make_app, persona, hook, draft):
    cards = persona_cards(make_app, persona, hook, draft)
    detail = proposal(cards)["detail"]
    assert HEADING not in detail
    assert "NOGG 2022" not in detail
