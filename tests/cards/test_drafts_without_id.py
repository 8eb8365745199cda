"""A draft order the EHR sent without an `id` cannot be named by a `delete` action (CDS Hooks 2.0
`resourceId`: "a relative reference to the relevant resource"): cards still warn and still offer
new orders, but never a delete of "MedicationRequest" or of nothing."""

from __future__ import annotations

from typing import Any

import pytest

import fhir_fixtures
from service import hooks
from service.hook_requests import build_hook_request
from service.protocol import validation
from tests.cards.invariants import check_cards
from tests.conftest import post_json
from tests.personas.persona_cases import AS_OF, SERVICE_IDS


def post(make_app, hook: str, persona: str, drug: str, *, with_id: bool) -> list[dict[str, Any]]:
    body = build_hook_request(hook, fhir_fixtures.render_persona(persona, AS_OF),
                              draft_orders=[fhir_fixtures.draft_order(drug, persona, AS_OF)])
    if not with_id:  # as an EHR may send an order it has not stored yet
        for entry in body["context"]["draftOrders"]["entry"]:
            del entry["resource"]["id"]
    client = make_app(dev_as_of=AS_OF).test_client()
    response = post_json(client, f"/cds-services/{SERVICE_IDS[hook]}", body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return check_cards(response.get_json()["cards"])


def actions(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for c in cards for s in c.get("suggestions", []) for a in s["actions"]]


def test_a_blocked_romosozumab_draft_without_id_gets_the_block_but_no_delete(make_app):
    """P02 (MI 11 months ago) signing a romosozumab order the EHR has not given an id yet."""
    with_id = post(make_app, "order-sign", "p02", "romosozumab", with_id=True)
    assert [a["type"] for a in actions(with_id)] == ["delete"]  # the case the fix must keep
    cards = post(make_app, "order-sign", "p02", "romosozumab", with_id=False)
    assert [c["source"]["topic"]["code"] for c in cards] == ["romosozumab-cv-contraindication"]
    assert cards[0]["indicator"] == "critical"
    assert "suggestions" not in cards[0]
    assert "selectionBehavior" not in cards[0]


def test_a_course_complete_draft_without_id_still_offers_the_follow_on_orders(make_app):
    """P09 (12 doses given) signing a 13th dose without an id: follow-on orders, no delete."""
    cards = post(make_app, "order-sign", "p09", "romosozumab", with_id=False)
    assert "romosozumab-course-complete" in [c["source"]["topic"]["code"] for c in cards]
    found = actions(cards)
    assert found
    assert {a["type"] for a in found} == {"create"}
    labels = [s["label"] for c in cards for s in c.get("suggestions", [])]
    assert not any(label.startswith("Replace") for label in labels)


@pytest.mark.parametrize(("resource_id", "valid"), [
    ("MedicationRequest/draft-1", True),
    ("MedicationRequest", False),  # what the cards sent for an id-less draft before
    ("urn:uuid:0b5f3c1e-1f4e-4c55-9d5e-0d6f3c2b1a00", False),
])
def test_the_response_schema_wants_a_relative_reference_in_delete_actions(resource_id, valid):
    card = {"uuid": "7f3c6a2e-4b1d-4e8a-9c2f-1a2b3c4d5e6f", "summary": "s", "indicator": "info",
            "source": {"label": "l"}, "selectionBehavior": "at-most-one",
            "suggestions": [{"label": "x", "uuid": "8f3c6a2e-4b1d-4e8a-9c2f-1a2b3c4d5e6f",
                             "actions": [{"type": "delete", "description": "d",
                                          "resourceId": resource_id}]}]}
    errors = validation.schema_errors(hooks.RESPONSE_SCHEMA, {"cards": [card]})
    assert (errors == []) is valid, errors
