"""Posting a hook request about a persona (or an edited copy of its bundle) to the development app
dated `AS_OF`, and picking cards out of the answer: the helpers the card-content tests share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import fhir_fixtures
from service.hook_requests import build_hook_request
from tests.cards.invariants import check_cards
from tests.conftest import post_json
from tests.personas.persona_cases import AS_OF, SERVICE_IDS

Card = dict[str, Any]


def post_hook(make_app: Any, hook: str, bundle: dict[str, Any],
              drafts: Sequence[dict[str, Any]] = (), **request_args: Any) -> list[Card]:
    """The cards (checked against the card invariants) for `hook` about `bundle`'s patient;
    `request_args` go to `build_hook_request` (user_id, encounter_id, ...)."""
    body = build_hook_request(hook, bundle, draft_orders=list(drafts), **request_args)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(),
                         f"/cds-services/{SERVICE_IDS[hook]}", body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return check_cards(response.get_json()["cards"])


def persona_cards(make_app: Any, persona: str, hook: str = "patient-view",
                  draft: str | None = None, **request_args: Any) -> list[Card]:
    """`post_hook` for a persona as rendered, with a draft order of `draft` when given."""
    drafts = [fhir_fixtures.draft_order(draft, persona, AS_OF)] if draft else []
    return post_hook(make_app, hook, fhir_fixtures.render_persona(persona, AS_OF), drafts,
                     **request_args)


def topic_of(card: Card) -> str:
    return str(card["source"]["topic"]["code"])


def the_card(cards: list[Card], topic: str) -> Card:
    """The one card of `topic` (fails when there is none or more than one)."""
    found = [card for card in cards if topic_of(card) == topic]
    assert len(found) == 1, [card["summary"] for card in cards]
    return found[0]
