"""A low calcium blocks romosozumab until corrected, vitamin D deficiency with it (label; research
P10: "replete vit D/Ca, recheck"). The card shows the patient's latest 25-hydroxyvitamin D
beside the calcium, ungraded: the research verifies its codes, not a deficiency threshold."""

from __future__ import annotations

from typing import Any

import pytest

import fhir_fixtures
from tests.personas.calls import post_hook, the_card
from tests.personas.persona_cases import AS_OF

VITAMIN_D_LINE = "- 25-hydroxyvitamin D: 12 ng/mL (2026-06-01); not graded"


def hypocalcemia_card(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return the_card(cards, "romosozumab-hypocalcemia")


@pytest.mark.parametrize(("hook", "draft"), [("patient-view", None),
                                             ("order-sign", "romosozumab")])
def test_p10_hypocalcemia_card_shows_the_vitamin_d_beside_the_calcium(make_app, hook, draft):
    bundle = fhir_fixtures.render_persona("p10", AS_OF)
    drafts = [fhir_fixtures.draft_order(draft, "p10", AS_OF)] if draft else []
    card = hypocalcemia_card(post_hook(make_app, hook, bundle, drafts))
    assert VITAMIN_D_LINE in card["detail"]
    assert "7.9 mg/dL" in card["summary"]  # the summary still quotes the calcium
    calcium_at = card["detail"].index("Total serum calcium: 7.9 mg/dL")
    assert calcium_at < card["detail"].index(VITAMIN_D_LINE)


def test_no_vitamin_d_in_the_record_no_line(make_app):
    bundle = fhir_fixtures.render_persona("p10", AS_OF)
    bundle["entry"] = [e for e in bundle["entry"]
                       if "25-hydroxyvitamin" not in e["resource"].get("code", {}).get("text", "")]
    card = hypocalcemia_card(post_hook(make_app, "patient-view", bundle))
    assert "25-hydroxyvitamin D" not in card["detail"]
    assert "7.9 mg/dL" in card["summary"]


def test_a_normal_calcium_card_does_not_show_vitamin_d(make_app):
    """P01 (calcium 9.4, 25-OH-D 32): its proposal says calcium not low, and nothing more."""
    cards = post_hook(make_app, "order-select", fhir_fixtures.render_persona("p01", AS_OF),
                      [fhir_fixtures.draft_order("alendronate", "p01", AS_OF)])
    assert cards
    assert all("25-hydroxyvitamin D" not in card["detail"] for card in cards)
