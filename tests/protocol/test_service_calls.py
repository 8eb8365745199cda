"""Conformance cases 5-11 and 25-28: happy paths and the response oracle on a full card."""

from __future__ import annotations

import copy
import uuid

import pytest

from service.hooks import HookContext
from service.protocol import validation
from service.record.queries import PREFETCH_KEYS
from tests.conftest import assert_operation_outcome, assert_valid_response, post_json
from tests.protocol.examples import (
    PATIENT_ID,
    SERVICE_IDS,
    full_card,
    hook_request,
    no_cards,
    romosozumab_draft,
)

ORDER_SELECT = "/cds-services/osteoporosis-order-select"
ORDER_SIGN = "/cds-services/osteoporosis-order-sign"


@pytest.fixture
def full_client(make_app):
    return make_app(card_producers=[full_card]).test_client()


@pytest.fixture
def seen(make_app):
    """An app whose producer records the HookContext it was given."""
    contexts: list[HookContext] = []

    def record(context: HookContext) -> list:
        contexts.append(context)
        return []

    return make_app(card_producers=[record]).test_client(), contexts


@pytest.mark.parametrize("hook", sorted(SERVICE_IDS))
def test_full_prefetch_gives_a_valid_full_card(full_client, hook) -> None:
    """Cases 5, 6: full prefetch -> 200; the full test card passes every response check."""
    response = post_json(full_client, f"/cds-services/{SERVICE_IDS[hook]}", hook_request(hook))
    assert response.status_code == 200
    body = response.get_json()
    assert_valid_response(body)
    (card,) = body["cards"]
    actions = card["suggestions"][0]["actions"]
    assert [a["type"] for a in actions] == (["create"] if hook == "patient-view"
                                            else ["create", "delete"])
    if hook != "patient-view":
        assert actions[1]["resourceId"] == "MedicationRequest/draft-romo-1"
    assert card["summary"].endswith("(2 conditions)")  # the record was gathered from prefetch


def test_hook_context_carries_the_call(seen) -> None:
    client, contexts = seen
    body = hook_request("order-sign")
    assert post_json(client, ORDER_SIGN, body).status_code == 200
    (context,) = contexts
    assert context.service_id == "osteoporosis-order-sign"
    assert context.hook == "order-sign"
    assert context.patient_id == PATIENT_ID
    assert context.hook_instance == body["hookInstance"]
    assert context.record.patient is not None
    assert context.record.patient.id == PATIENT_ID
    assert context.settings.is_development
    assert context.knowledge.version
    assert [o.reference for o in context.record.draft_orders] == ["MedicationRequest/draft-romo-1"]


def test_order_sign_does_not_need_selections(seen) -> None:
    """Case 6."""
    client, contexts = seen
    body = hook_request("order-sign")
    assert "selections" not in body["context"]
    assert post_json(client, ORDER_SIGN, body).status_code == 200
    assert not contexts[0].record.selected_orders


def test_nothing_to_say_is_exactly_empty_cards(make_app) -> None:
    """Case 7."""
    client = make_app(card_producers=[no_cards]).test_client()
    response = post_json(client, ORDER_SELECT, hook_request("order-select"))
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}


def test_default_producers_answer_valid_responses(client) -> None:
    """The real clinical producer: whatever it says, it passes the response checks."""
    for hook, service_id in SERVICE_IDS.items():
        response = post_json(client, f"/cds-services/{service_id}", hook_request(hook))
        assert response.status_code == 200, response.get_json()


def test_untyped_draft_bundle_dangling_selection_and_foreign_draft(seen) -> None:
    """Case 8: no Bundle.type, a selection without entry, an unrelated NutritionOrder."""
    client, contexts = seen
    body = hook_request("order-select", draft_bundle_type=None)
    body["context"]["selections"].append("MedicationRequest/not-in-bundle")
    body["context"]["draftOrders"]["entry"].append({"resource": {
        "resourceType": "NutritionOrder", "id": "n1", "status": "draft", "intent": "order",
        "patient": {"reference": f"Patient/{PATIENT_ID}"}}})
    assert "type" not in body["context"]["draftOrders"]
    assert post_json(client, ORDER_SELECT, body).status_code == 200
    selected = [o.reference for o in contexts[0].record.selected_orders]
    assert selected == ["MedicationRequest/draft-romo-1"]


def test_unknown_extension_and_context_fields_are_ignored(seen) -> None:
    """Case 9."""
    client, _ = seen
    body = hook_request("order-select")
    body["extension"] = {"org.example.unknown": {"x": 1}}
    body["context"]["org.example.extra"] = "whatever"
    body["somethingNew"] = True
    assert post_json(client, ORDER_SELECT, body).status_code == 200


def test_null_prefetch_means_no_data(seen) -> None:
    """Case 10: null -> no data, and no FHIR call (there is no fhirServer to call)."""
    client, contexts = seen
    body = hook_request("order-select")
    body["prefetch"]["conditions"] = None
    assert "fhirServer" not in body
    assert post_json(client, ORDER_SELECT, body).status_code == 200
    assert contexts[0].record.conditions == ()


def test_empty_bundle_null_and_absent_are_distinct(seen) -> None:
    """Case 11: empty searchset and null are "no data"; absent must be fetched -> 412 here."""
    client, contexts = seen
    empty = hook_request("order-select")
    empty["prefetch"]["conditions"] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert post_json(client, ORDER_SELECT, empty).status_code == 200
    assert contexts[-1].record.conditions == ()
    absent = hook_request("order-select", prefetch=["patient", "observations"])
    response = post_json(client, ORDER_SELECT, absent)
    issue = assert_operation_outcome(response, 412, "incomplete")
    assert "conditions" in issue["diagnostics"]


@pytest.mark.parametrize("value", ["123", 7, ["a"], True])
def test_prefetch_keys_the_service_did_not_ask_for_are_ignored(seen, value) -> None:
    """An EHR may prefetch for several services in one body: a key osteocds never asked for is
    none of its business, whatever it holds; one of its own six keys must be an object or null."""
    client, contexts = seen
    body = hook_request("order-select")
    body["prefetch"]["user"] = value
    assert post_json(client, ORDER_SELECT, body).status_code == 200
    assert contexts[-1].record.conditions  # the six keys were still read
    body["prefetch"]["conditions"] = value
    issue = assert_operation_outcome(post_json(client, ORDER_SELECT, body), 400, "invalid")
    assert issue["expression"] == ["prefetch.conditions"]


def test_the_request_schema_checks_exactly_the_prefetch_keys_the_service_asks_for() -> None:
    schema = validation.load_schema_documents()["hook-request"]
    assert tuple(schema["properties"]["prefetch"]["properties"]) == PREFETCH_KEYS


def test_no_prefetch_and_no_fhir_server_is_412(full_client) -> None:
    response = post_json(full_client, ORDER_SELECT, hook_request("order-select", prefetch="none"))
    assert_operation_outcome(response, 412, "incomplete")


def test_another_patients_prefetch_is_rejected(full_client) -> None:
    body = hook_request("order-select")
    foreign = copy.deepcopy(body["prefetch"]["conditions"])
    foreign["entry"][0]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    body["prefetch"]["conditions"] = foreign
    response = post_json(full_client, ORDER_SELECT, body)
    issue = assert_operation_outcome(response, 400)
    assert "someone-else" not in issue["diagnostics"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda c: c.update(summary="x" * 140), "summary"),
        (lambda c: c.update(indicator="hard-stop"), "indicator"),
        (lambda c: c["source"].pop("label"), "label"),
        (lambda c: c.pop("selectionBehavior"), "selectionBehavior"),
        (lambda c: c["overrideReasons"][0].pop("display"), "display"),
        (lambda c: c["links"][0].update(type="web"), "type"),
        (lambda c: c["links"][0].update(appContext="x"), "appContext"),
        (lambda c: c.update(detail=""), "detail"),
        (lambda c: c.update(links=[]), "links"),
        (lambda c: c["source"].update(topic={}), "topic"),
        (lambda c: c.update(uuid=None), "uuid"),
        (lambda c: c["suggestions"][1].update(isRecommended=True), "suggestions"),
        (lambda c: c["suggestions"][0]["actions"][0].pop("resource"), "resource"),
        (lambda c: c["suggestions"][0]["actions"][0].update(description=""), "description"),
        (lambda c: c["source"].update(url="/relative"), "url"),
    ],
)
def test_response_oracle_catches_each_broken_rule(mutate, problem) -> None:
    """Cases 25-28: the response checks are not vacuous; each broken rule is caught."""
    card = _full_card_for_oracle()
    mutate(card)
    with pytest.raises(AssertionError, match=problem):
        assert_valid_response({"cards": [card]})


def test_response_oracle_rejects_repeated_uuids() -> None:
    card = _full_card_for_oracle()
    twin = copy.deepcopy(card)
    with pytest.raises(AssertionError, match="used twice"):
        assert_valid_response({"cards": [card, twin]})


def test_an_invalid_card_is_an_opaque_500_not_sent(make_app, caplog) -> None:
    def broken(context: HookContext) -> list:
        card = full_card(context)[0]
        card["summary"] = "Patient Jane Doe " + "x" * 200
        return [card]

    client = make_app(card_producers=[broken]).test_client()
    response = post_json(client, ORDER_SELECT, hook_request("order-select"))
    issue = assert_operation_outcome(response, 500, "exception")
    assert "Jane" not in response.get_data(as_text=True)
    assert "Jane" not in caplog.text
    assert "cards[0].summary" in caplog.text
    assert issue["diagnostics"]


def test_a_crashing_producer_is_an_opaque_500(make_app, caplog) -> None:
    def crash(context: HookContext) -> list:
        raise RuntimeError("boom")

    client = make_app(card_producers=[crash]).test_client()
    body = hook_request("order-select")
    response = post_json(client, ORDER_SELECT, body)
    assert_operation_outcome(response, 500, "exception")
    text = response.get_data(as_text=True)
    assert "boom" not in text
    assert "Traceback" not in text
    assert "RuntimeError" in caplog.text
    assert "1952-03-14" not in caplog.text  # the request body (birth date) is never logged


def test_issued_cards_are_recorded_without_patient_data(make_app) -> None:
    from service.protocol.state import protocol_state

    app = make_app(card_producers=[full_card])
    response = post_json(app.test_client(), ORDER_SELECT, hook_request("order-select"))
    card_uuid = response.get_json()["cards"][0]["uuid"]
    issued = list(protocol_state(app).store.iter_issued_cards())
    assert [(c.card_uuid, c.topic, c.service_id) for c in issued] == [
        (card_uuid, "protocol-test", "osteoporosis-order-select")]


def test_as_of_is_today_unless_dev_clock_is_set(make_app) -> None:
    import datetime as dt

    contexts: list[HookContext] = []
    producers = [lambda context: contexts.append(context) or []]
    for as_of in (None, dt.date(2026, 6, 1)):
        client = make_app(card_producers=producers, dev_as_of=as_of).test_client()
        assert post_json(client, ORDER_SIGN, hook_request("order-sign")).status_code == 200
    assert contexts[0].as_of == dt.date.today()
    assert contexts[1].as_of == dt.date(2026, 6, 1)


def _full_card_for_oracle() -> dict:
    from service.record.model import DraftOrder, PatientRecord

    record = PatientRecord(patient_id=PATIENT_ID, patient=None, draft_orders=(DraftOrder(
        reference="MedicationRequest/draft-romo-1", resource_type="MedicationRequest",
        codings=(), text=None, selected=True),))
    context = HookContext(service_id="s", hook="order-select", request=hook_request(
        "order-select", draft_orders=[romosozumab_draft()], hook_instance=str(uuid.uuid4())),
        record=record, settings=None, knowledge=None, as_of=None)  # type: ignore[arg-type]
    card = full_card(context)[0]
    assert_valid_response({"cards": [card]})  # valid before it is broken
    return card
