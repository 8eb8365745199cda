"""When only criteria that other guidelines draw differently are met (a low T-score, FRAX or age
without a fracture), the card says where they differ, with the sources and their verification
level (research 1.7; P16: "note other guidelines would not call this very high risk without
fracture", P17: "flag: NOGG requires <= -3.5, Endocrine Soc requires a fracture")."""

from __future__ import annotations

from typing import Any

import pytest

import fhir_fixtures
from service.hook_requests import build_hook_request
from service.knowledge import load_knowledge
from tests.cards.invariants import check_cards
from tests.conftest import post_json
from tests.personas.persona_cases import AS_OF, SERVICE_IDS

HEADING = "**Other guidelines differ**"


def cards_for(make_app, persona: str, hook: str = "patient-view",
              draft: str | None = None) -> list[dict[str, Any]]:
    drafts = [fhir_fixtures.draft_order(draft, persona, AS_OF)] if draft else []
    body = build_hook_request(hook, fhir_fixtures.render_persona(persona, AS_OF),
                              draft_orders=drafts)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS[hook]}", body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return check_cards(response.get_json()["cards"])


def proposal(cards: list[dict[str, Any]]) -> dict[str, Any]:
    found = [c for c in cards if c["source"]["topic"]["code"] == "romosozumab-proposal"]
    assert len(found) == 1, [c["summary"] for c in cards]
    return found[0]


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
    detail = proposal(cards_for(make_app, persona, hook, draft))["detail"]
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
    cards = cards_for(make_app, persona, hook, draft)
    detail = proposal(cards)["detail"]
    assert HEADING not in detail
    assert "NOGG 2022" not in detail
