"""Conformance cases 20-24 and 41: malformed requests, content type, body size; one error shape."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_operation_outcome, post_json
from tests.protocol.examples import hook_request, no_cards

ORDER_SELECT = "/cds-services/osteoporosis-order-select"


@pytest.fixture
def client(make_app):
    return make_app(card_producers=[no_cards], max_body_bytes=64 * 1024).test_client()


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"hook": "order-select"', b"[1, 2]", b'"text"', b"", b"\xff\xfe",
            b'{"hook": NaN}'],
)
def test_non_json_truncated_or_non_object_is_400(client, raw) -> None:
    """Case 20."""
    response = client.post(ORDER_SELECT, data=raw, content_type="application/json")
    assert_operation_outcome(response, 400, "invalid")


@pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
def test_missing_required_top_level_field_is_400(client, field) -> None:
    """Case 21."""
    body = hook_request("order-select")
    del body[field]
    issue = assert_operation_outcome(post_json(client, ORDER_SELECT, body), 400, "invalid")
    assert issue["expression"] == [field]


def test_wrong_hook_is_400(client) -> None:
    """Case 22."""
    body = hook_request("order-select")
    body["hook"] = "patient-view"
    issue = assert_operation_outcome(post_json(client, ORDER_SELECT, body), 400, "invalid")
    assert issue["expression"] == ["hook"]
    assert "order-select" in issue["diagnostics"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("draftOrders"), "context.draftOrders"),
        (lambda c: c.pop("selections"), "context.selections"),
        (lambda c: c.pop("patientId"), "context.patientId"),
        (lambda c: c.pop("userId"), "context.userId"),
        (lambda c: c.update(draftOrders={"resourceType": "Patient"}),
         "context.draftOrders.resourceType"),
        (lambda c: c.update(draftOrders=[]), "context.draftOrders"),
        (lambda c: c.update(selections=[]), "context.selections"),
        (lambda c: c.update(patientId="../Patient/x"), "context.patientId"),
    ],
)
def test_order_select_context_errors_are_400_naming_the_field(client, mutate, field) -> None:
    """Case 23."""
    body = hook_request("order-select")
    mutate(body["context"])
    issue = assert_operation_outcome(post_json(client, ORDER_SELECT, body), 400, "invalid")
    assert issue["expression"] == [field]


def test_order_sign_needs_draft_orders(client) -> None:
    body = hook_request("order-sign")
    del body["context"]["draftOrders"]
    response = post_json(client, "/cds-services/osteoporosis-order-sign", body)
    assert assert_operation_outcome(response, 400)["expression"] == ["context.draftOrders"]


SECRET = "secret-access-token-value"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("fhirServer"), "fhirServer"),
        (lambda b: b["fhirAuthorization"].update(token_type="MAC"),
         "fhirAuthorization.token_type"),
        (lambda b: b["fhirAuthorization"].update(expires_in="300"),
         "fhirAuthorization.expires_in"),
        (lambda b: b["fhirAuthorization"].pop("scope"), "fhirAuthorization.scope"),
        (lambda b: b["fhirAuthorization"].pop("subject"), "fhirAuthorization.subject"),
        (lambda b: b["fhirAuthorization"].update(access_token=""),
         "fhirAuthorization.access_token"),
    ],
)
def test_bad_fhir_authorization_is_400_and_never_echoes_the_token(
    client, caplog, mutate, field
) -> None:
    """Case 24."""
    from service.hook_requests import fhir_authorization

    body = hook_request("order-select", fhir_server="https://ehr.example.org/fhir",
                        fhir_authorization=fhir_authorization(SECRET))
    mutate(body)
    response = post_json(client, ORDER_SELECT, body)
    issue = assert_operation_outcome(response, 400, "invalid")
    assert issue["expression"] == [field]
    assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text


def test_error_messages_never_quote_request_values(client) -> None:
    body = hook_request("order-select")
    body["prefetch"]["patient"] = ["Jane", "Doe", "1952-03-14"]
    response = post_json(client, ORDER_SELECT, body)
    issue = assert_operation_outcome(response, 400)
    assert issue["expression"] == ["prefetch.patient"]
    assert "Jane" not in response.get_data(as_text=True)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", None])
def test_non_json_content_type_is_415(client, content_type) -> None:
    """Case 41 (content type)."""
    data = json.dumps(hook_request("order-select"))
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(ORDER_SELECT, data=data, headers=headers)
    assert_operation_outcome(response, 415, "not-supported")


def test_json_with_charset_and_fhir_json_are_accepted(client) -> None:
    data = json.dumps(hook_request("order-select"))
    for content_type in ("application/json; charset=utf-8", "application/fhir+json"):
        assert client.post(ORDER_SELECT, data=data, content_type=content_type).status_code == 200


def test_body_over_the_limit_is_413(client) -> None:
    """Case 41 (size): a 64 KiB limit and a 100 KiB prefetch."""
    body = hook_request("order-select")
    body["prefetch"]["patient"]["text"] = {"status": "generated", "div": "x" * 100_000}
    for path in (ORDER_SELECT, f"{ORDER_SELECT}/feedback"):
        response = post_json(client, path, body)
        assert_operation_outcome(response, 413, "too-long")


def test_default_body_limit_is_5_mb(make_app) -> None:
    from service.protocol.state import protocol_state

    assert protocol_state(make_app()).settings.max_body_bytes == 5 * 1024 * 1024
