"""Conformance cases 37-39: feedback is validated, stored, idempotent and lenient."""

from __future__ import annotations

import copy

import pytest

from service.protocol.state import protocol_state
from tests.conftest import assert_operation_outcome, post_json
from tests.protocol.examples import full_card, hook_request

SERVICE = "osteoporosis-order-select"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"


@pytest.fixture
def app(make_app):
    return make_app(card_producers=[full_card])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def card(client):
    response = post_json(client, f"/cds-services/{SERVICE}", hook_request("order-select"))
    return response.get_json()["cards"][0]


def accepted(card, at="2026-06-01T10:00:00.52Z"):
    return {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": at,
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}


def stored(app):
    return list(protocol_state(app).store.iter_feedback())


def test_accepted_feedback_is_stored_against_the_card(app, client, card) -> None:
    """Case 37."""
    response = post_json(client, FEEDBACK, {"feedback": [accepted(card)]})
    assert response.status_code == 200
    assert response.get_json() == {"recorded": 1, "duplicates": 0}
    (row,) = stored(app)
    assert row.card_uuid == card["uuid"]
    assert row.service_id == SERVICE
    assert row.outcome == "accepted"
    assert row.accepted_suggestions == (card["suggestions"][0]["uuid"],)
    assert row.topic == "protocol-test"  # joined from the issued card
    assert row.source == "ehr"
    assert row.outcome_at.isoformat() == "2026-06-01T10:00:00.520000+00:00"


@pytest.mark.parametrize(
    "override",
    [
        None,
        {"reason": {"code": "patient-declined"}},  # no display, no system (Sandbox)
        {"reason": {"code": "x", "system": "urn:osteocds:override-reason"}},
        {"userComment": "discussed with the patient"},
        {"reason": {"code": "x", "system": "urn:s", "display": "Other"}, "userComment": "c"},
    ],
)
def test_overridden_feedback_is_lenient(app, client, card, override) -> None:
    """Case 38."""
    item = {"card": card["uuid"], "outcome": "overridden",
            "outcomeTimestamp": "2026-06-01T10:00:00Z"}
    if override is not None:
        item["overrideReason"] = override
    assert post_json(client, FEEDBACK, {"feedback": [item]}).status_code == 200
    (row,) = stored(app)
    reason = (override or {}).get("reason", {})
    assert row.override_reason_code == reason.get("code")
    assert row.override_reason_display == reason.get("display")
    assert row.override_comment == (override or {}).get("userComment")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"feedback": [{"card": "c", "outcome": "accepted",
                        "outcomeTimestamp": "2026-06-01T10:00:00Z"}]},
         "feedback[0].acceptedSuggestions"),
        ({"feedback": [{"card": "c", "outcome": "ignored",
                        "outcomeTimestamp": "2026-06-01T10:00:00Z"}]}, "feedback[0].outcome"),
        ({"feedback": [{"card": "c", "outcome": "overridden"}]},
         "feedback[0].outcomeTimestamp"),
        ({"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2026-06-01T10:00:00Z"}]},
         "feedback[0].card"),
        ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]},
         "feedback[0].outcomeTimestamp"),
        ({"feedback": {"card": "c"}}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({}, "feedback"),
    ],
)
def test_invalid_feedback_is_400_and_nothing_is_stored(app, client, body, field) -> None:
    """Case 39."""
    issue = assert_operation_outcome(post_json(client, FEEDBACK, body), 400, "invalid")
    assert issue["expression"] == [field]
    assert stored(app) == []


def test_repeats_are_idempotent_new_facts_are_not(app, client, card) -> None:
    """Case 39: the same fact twice (in one batch and again later) is stored once; an
    `overridden` after the `accepted` is a new fact."""
    item = accepted(card)
    response = post_json(client, FEEDBACK, {"feedback": [item, copy.deepcopy(item)]})
    assert response.get_json() == {"recorded": 1, "duplicates": 1}
    response = post_json(client, FEEDBACK, {"feedback": [item]})
    assert response.get_json() == {"recorded": 0, "duplicates": 1}
    overridden = {"card": card["uuid"], "outcome": "overridden",
                  "outcomeTimestamp": "2026-06-01T10:05:00Z"}
    assert post_json(client, FEEDBACK, {"feedback": [overridden]}).get_json()["recorded"] == 1
    assert [row.outcome for row in stored(app)] == ["accepted", "overridden"]


def test_feedback_for_an_unknown_service_is_404(client) -> None:
    response = post_json(client, "/cds-services/nope/feedback", {"feedback": []})
    assert_operation_outcome(response, 404, "not-found")


def test_preview_feedback_is_tagged(app) -> None:
    from service.protocol.routes import accept_feedback

    with app.app_context():
        receipt = accept_feedback(SERVICE, {"feedback": [{
            "card": "c1", "outcome": "overridden",
            "outcomeTimestamp": "2026-06-01T10:00:00Z"}]}, source="preview")
    assert receipt.recorded == 1
    assert [row.source for row in stored(app)] == ["preview"]


def test_lower_case_t_and_z_are_rfc3339_and_the_same_moment(app, client, card) -> None:
    """RFC 3339 5.6 (which CDS Hooks 2.0 names for outcomeTimestamp) allows "t" and "z": such a
    timestamp is accepted, and the same moment in either spelling is one fact."""
    response = post_json(client, FEEDBACK, {"feedback": [accepted(card, "2026-06-01t10:00:00z")]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"recorded": 1, "duplicates": 0}
    again = post_json(client, FEEDBACK, {"feedback": [accepted(card, "2026-06-01T10:00:00Z")]})
    assert again.get_json() == {"recorded": 0, "duplicates": 1}
    assert [row.outcome_at.isoformat() for row in stored(app)] == ["2026-06-01T10:00:00+00:00"]
