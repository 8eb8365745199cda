"""cards.orders.checked_order: R4B validates the first order of each drug; later ones are checked
on their per-patient fields and compared on the fixed part."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError

from cards import orders


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders, "_validated_fixed_parts", {})


@pytest.mark.parametrize("drug", orders.ORDERABLE_DRUGS)
def test_every_order_is_valid_r4b_for_different_patients(drug: str) -> None:
    for patient, day, note in (("p1", date(2026, 1, 2), "first"), ("x-02.b", date(2027, 3, 4),
                                                                       "second plan")):
        order = orders.ORDER_BUILDERS[drug](patient, day, note)
        MedicationRequest.model_validate(order)
        assert order["subject"] == {"reference": f"Patient/{patient}"}
        assert order["authoredOn"] == day.isoformat()
        assert order["note"] == [{"text": note}]


def test_later_orders_skip_the_model_but_not_the_per_patient_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = MedicationRequest.model_validate
    # Spied on the model, not on `orders.validated`: in the compiled build (make compile) a call
    # inside cards.orders goes straight to the compiled function, past a patched module attribute.
    monkeypatch.setattr(MedicationRequest, "model_validate",
                        classmethod(lambda cls, obj, **kw: calls.append("r4b") or real(obj, **kw)))
    orders.denosumab_request("p1", date(2026, 1, 2), "note")
    orders.denosumab_request("p2", date(2026, 1, 3), "other note")
    assert calls == ["r4b"]
    with pytest.raises(ValueError, match="note"):
        orders.denosumab_request("p3", date(2026, 1, 3), "   ")
    with pytest.raises(ValueError, match=r"subject\.reference"):
        orders.denosumab_request("bad id", date(2026, 1, 3), "note")


def test_a_different_fixed_part_goes_through_r4b_again() -> None:
    order = orders.zoledronic_acid_request("p1", date(2026, 1, 2), "note")
    broken = copy.deepcopy(order)
    broken["dispenseRequest"]["quantity"]["value"] = "one"
    with pytest.raises(ValidationError):
        orders.checked_order("zoledronic-acid", broken)
    changed = copy.deepcopy(order)
    changed["priority"] = "urgent"
    assert orders.checked_order("zoledronic-acid", changed) is changed


def test_doses_keep_the_catalog_number_type() -> None:
    """210 stays 210 in the order JSON (the compiled build once wrote 210.0)."""
    order = orders.romosozumab_request("p1", date(2026, 1, 2), "note")
    value = order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    assert value == 210
    assert type(value) is int
