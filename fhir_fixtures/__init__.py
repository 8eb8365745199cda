"""Fixture patients for osteocds: persona templates rendered to FHIR R4 Bundles for any `as_of`.

Every date in a template is an offset from `as_of` (calendar arithmetic, `dates.py`), so a persona
means the same thing on any day: render with the evaluation's `as_of` and the expected outcomes in
``expected.json`` hold. Codes come only from ``codes.json`` (each with its research source).

API
---
``persona_ids() -> list[str]``
    Every fixture id: the 20 research personas ``p01``..``p20``, boundary variants
    ``b01``..``b10``, the script-injection persona ``x01``, the ~50-resource patient ``x02`` and
    variants ``v01``..``v03``.
``persona_summary(persona_id) -> dict``
    ``{"id", "title", "description", "kind", "source", "patient_id"}``; kind is persona | boundary |
    security | volume | variant.
``render_persona(persona_id, as_of) -> dict``
    A FHIR R4 ``collection`` Bundle: Patient first, every resource with a stable id
    ``osteocds-<persona>-<key>``, subject ``Patient/osteocds-<persona>``, absolute stable fullUrls.
``render_transaction(persona_id, as_of) -> dict``
    The same resources as a ``transaction`` Bundle of PUTs on their stable ids (loading twice
    duplicates nothing).
``patient_id(persona_id) -> str``
    ``osteocds-<persona>``.
``heavy_patient(n_resources, as_of) -> dict``
    A deterministic collection Bundle of exactly `n_resources` resources (>= 20) for benchmarks;
    expected outcome: propose, cardiovascular caution, no denosumab
    (``load_expected()["generated"]["heavy"]``).
``heavy_transaction(n_resources, as_of) -> dict``
    The heavy patient as a PUT transaction.
``load_expected() -> dict``
    ``expected.json``: per persona the romosozumab decision, cardiovascular verdict, denosumab
    state, the card topics per hook (with the draft order each order-select/order-sign scenario
    uses), a one-line why and its source.
``draft_order(drug, persona_id, as_of, order_id=None) -> dict``
    A draft R4 MedicationRequest for ``context.draftOrders``; drug ids are the keys of
    ``load_expected()["orders"]``.
``patient_resources(persona_id, as_of) -> list[dict]``
    The rendered resources, Patient first (for a prefetch built per resource type).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fhir_fixtures import render, volume

__all__ = [
    "draft_order",
    "heavy_patient",
    "heavy_transaction",
    "load_expected",
    "patient_id",
    "patient_resources",
    "persona_ids",
    "persona_summary",
    "render_persona",
    "render_transaction",
]

_PERSONA_DIR = "personas"


@cache
def _file_templates() -> dict[str, dict[str, Any]]:
    folder = resources.files("fhir_fixtures").joinpath(_PERSONA_DIR)
    templates = {}
    for item in folder.iterdir():
        if item.name.endswith(".json"):
            template = json.loads(item.read_text(encoding="utf-8"))
            templates[template["id"]] = template
    return templates


@cache
def _templates() -> dict[str, dict[str, Any]]:
    templates = dict(_file_templates())
    templates[volume.MID_SIZE_ID] = volume.mid_size_template()
    return dict(sorted(templates.items()))


def _template(persona_id: str) -> dict[str, Any]:
    try:
        return _templates()[persona_id]
    except KeyError:
        raise KeyError(f"unknown fixture persona {persona_id!r}") from None


def persona_ids() -> list[str]:
    """Every fixture persona id, sorted (b.., p.., v.., x..)."""
    return list(_templates())


def persona_summary(persona_id: str) -> dict[str, str]:
    """Title, one-line description, kind and source of a persona."""
    template = _template(persona_id)
    summary = {key: template[key] for key in ("id", "title", "description", "kind", "source")}
    summary["patient_id"] = patient_id(persona_id)
    return summary


def patient_id(persona_id: str) -> str:
    """The stable Patient id of a persona (``osteocds-<persona>``)."""
    _template(persona_id)
    return render.patient_id(persona_id)


def patient_resources(persona_id: str, as_of: date) -> list[dict[str, Any]]:
    """The persona's FHIR R4 resources on `as_of`, Patient first."""
    return render.render_resources(_template(persona_id), as_of)


def render_persona(persona_id: str, as_of: date) -> dict[str, Any]:
    """The persona as a FHIR R4 collection Bundle on `as_of`."""
    items = patient_resources(persona_id, as_of)
    return render.collection_bundle(f"{patient_id(persona_id)}-collection", items)


def render_transaction(persona_id: str, as_of: date) -> dict[str, Any]:
    """The persona as a FHIR R4 transaction Bundle of idempotent PUTs on stable ids."""
    items = patient_resources(persona_id, as_of)
    return render.transaction_bundle(f"{patient_id(persona_id)}-transaction", items)


def heavy_patient(n_resources: int, as_of: date) -> dict[str, Any]:
    """A deterministic collection Bundle with exactly `n_resources` resources (benchmarks)."""
    items = render.render_resources(volume.heavy_template(n_resources), as_of)
    return render.collection_bundle(f"{render.patient_id(volume.HEAVY_ID)}-collection", items)


def heavy_transaction(n_resources: int, as_of: date) -> dict[str, Any]:
    """The heavy patient as a transaction Bundle of PUTs."""
    items = render.render_resources(volume.heavy_template(n_resources), as_of)
    return render.transaction_bundle(f"{render.patient_id(volume.HEAVY_ID)}-transaction", items)


@cache
def _expected_text() -> str:
    return resources.files("fhir_fixtures").joinpath("expected.json").read_text(encoding="utf-8")


def load_expected() -> dict[str, Any]:
    """The expected outcomes (a fresh copy of ``expected.json`` each call)."""
    return json.loads(_expected_text())


def draft_order(
    drug: str, persona_id: str, as_of: date, order_id: str | None = None
) -> dict[str, Any]:
    """A draft R4 MedicationRequest of `drug` for the persona, as an EHR puts in draftOrders."""
    orders = load_expected()["orders"]
    if drug not in orders:
        raise KeyError(f"unknown draft order drug {drug!r}; known: {sorted(orders)}")
    spec = orders[drug]
    return {
        "resourceType": "MedicationRequest",
        "id": order_id or f"{patient_id(persona_id)}-draft-{drug}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": render.concept([spec["code"]], spec["text"]),
        "subject": {"reference": f"Patient/{patient_id(persona_id)}"},
        "authoredOn": as_of.isoformat(),
        "dosageInstruction": [{"text": spec["dosage"]}],
    }
