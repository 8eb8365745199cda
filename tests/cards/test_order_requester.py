"""The orders a card proposes name the clinician and the encounter of the call when the EHR sent
them: `requester` from `context.userId` (a Practitioner or PractitionerRole only: a Patient or
RelatedPerson using patient-view does not sign orders) and `encounter` from
`context.encounterId`. Without them the order has neither (the EHR fills them when signing)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

import fhir_fixtures
from cards import orders
from tests.personas.calls import persona_cards


@pytest.mark.parametrize(("user_id", "expected"), [
    ("Practitioner/example", "Practitioner/example"),
    ("PractitionerRole/role-1.a", "PractitionerRole/role-1.a"),
    ("Patient/p1", None),
    ("RelatedPerson/r1", None),
    ("practitioner/x", None),
    ("Practitioner/", None),
    ("Practitioner/has space", None),
    ("Practitioner/" + "x" * 65, None),
    ("Practitioner/a/_history/2", None),
    (None, None),
])
def test_requester_is_a_practitioner_or_role_reference_only(user_id, expected) -> None:
    assert orders.requester_reference(user_id) == expected


@pytest.mark.parametrize(("encounter_id", "expected"), [
    ("enc-1", "Encounter/enc-1"),
    ("89284", "Encounter/89284"),
    ("Encounter/enc-1", None),  # CDS Hooks sends the id, not a reference
    ("has space", None),
    ("x" * 65, None),
    (None, None),
])
def test_encounter_is_built_from_an_id_only(encounter_id, expected) -> None:
    assert orders.encounter_reference(encounter_id) == expected


@pytest.mark.parametrize("drug", orders.ORDERABLE_DRUGS)
def test_every_order_carries_the_requester_and_encounter_it_is_given(drug: str) -> None:
    build = orders.ORDER_BUILDERS[drug]
    order = build("p1", date(2026, 1, 2), "note", requester="PractitionerRole/r1",
                  encounter="Encounter/e1")
    MedicationRequest.model_validate(order)
    assert order["requester"] == {"reference": "PractitionerRole/r1"}
    assert order["encounter"] == {"reference": "Encounter/e1"}
    plain = build("p1", date(2026, 1, 2), "note")
    MedicationRequest.model_validate(plain)
    assert "requester" not in plain
    assert "encounter" not in plain


@pytest.mark.parametrize(("field", "value"), [
    ("requester", {"reference": "Patient/p1"}),  # valid R4, not a clinician
    ("requester", {"reference": "Practitioner/a", "display": "x"}),
    ("encounter", {"reference": "Encounter/bad id"}),
    ("encounter", {"reference": "Location/l1"}),
    ("encounter", "Encounter/e1"),  # not R4 (R4B refuses it, pydantic's error names the field)
])
def test_a_malformed_requester_or_encounter_is_refused_after_the_first_order(
    monkeypatch: pytest.MonkeyPatch, field: str, value: Any,
) -> None:
    """The fast path (fixed part already validated) still checks the per-call fields."""
    monkeypatch.setattr(orders, "_validated_fixed_parts", {})
    order = orders.denosumab_request("p1", date(2026, 1, 2), "note")
    order[field] = value
    with pytest.raises(ValueError, match=field):
        orders.checked_order("denosumab", order)


def proposed_orders(make_app, hook: str, persona: str, draft: str | None,
                    **context: Any) -> list[dict[str, Any]]:
    cards = persona_cards(make_app, persona, hook, draft, **context)
    found = [action["resource"] for card in cards for s in card.get("suggestions", [])
             for action in s["actions"] if action["type"] == "create"]
    assert found, "the persona must get a card with an order"
    for resource in found:
        MedicationRequest.model_validate(resource)
    return found


def test_order_select_orders_name_the_clinician_and_the_encounter(make_app) -> None:
    """P01 selecting alendronate: the romosozumab order the card offers is the clinician's."""
    found = proposed_orders(make_app, "order-select", "p01", "alendronate",
                            user_id="PractitionerRole/dr-lee", encounter_id="enc-42")
    for resource in found:
        assert resource["requester"] == {"reference": "PractitionerRole/dr-lee"}
        assert resource["encounter"] == {"reference": "Encounter/enc-42"}
        assert resource["subject"] == {"reference": f"Patient/{fhir_fixtures.patient_id('p01')}"}


def test_a_patient_user_is_not_made_the_requester(make_app) -> None:
    """P15 on patient-view (rebound fractures: follow-on orders), opened by the patient."""
    found = proposed_orders(make_app, "patient-view", "p15", None,
                            user_id=f"Patient/{fhir_fixtures.patient_id('p15')}")
    for resource in found:
        assert "requester" not in resource
        assert "encounter" not in resource
