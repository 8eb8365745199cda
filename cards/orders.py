"""The R4 MedicationRequest orders a card may suggest, validated with fhir.resources R4B.

Codes and regimens come from `cards/data/orders.json`, each with its source and verification level.
Everything in an order but its subject, date, note, requester and encounter is fixed per drug, so
fhir.resources validates the first order of each drug in the process in full (~0.6 ms) and later
ones cost a dict comparison of that fixed part plus a check of the per-call fields
(`checked_order`).

The requester and the encounter come from the hook's context when the EHR sent them in a form an
order can carry (`requester_reference`, `encounter_reference`): `userId` when it names a
Practitioner or PractitionerRole (CDS Hooks 2.0: order-select and order-sign users are one of the
two; patient-view's may also be a Patient or RelatedPerson, who do not sign orders), and
`encounterId` as `Encounter/<id>`. Without them the order has neither, and the EHR fills them in
when the clinician signs.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest

from service.record.shape import FHIR_ID_CHARS

UCUM = "http://unitsofmeasure.org"
ORDERABLE_DRUGS = ("romosozumab", "denosumab", "zoledronic-acid")
PER_CALL_FIELDS = ("subject", "authoredOn", "note", "requester", "encounter")
_PATIENT_REFERENCE = re.compile(f"Patient/{FHIR_ID_CHARS}")
_REQUESTER_REFERENCE = re.compile(f"(?:Practitioner|PractitionerRole)/{FHIR_ID_CHARS}")
_ENCOUNTER_REFERENCE = re.compile(f"Encounter/{FHIR_ID_CHARS}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_validated_fixed_parts: dict[str, dict[str, Any]] = {}


@cache
def order_catalog() -> dict[str, dict[str, Any]]:
    """The orderable products, keyed by knowledge drug id."""
    text = resources.files("cards").joinpath("data/orders.json").read_text(encoding="utf-8")
    catalog = {key: value for key, value in json.loads(text).items() if not key.startswith("_")}
    missing = set(ORDERABLE_DRUGS) - set(catalog)
    if missing:
        raise ValueError(f"cards/data/orders.json: missing products {sorted(missing)}")
    return catalog


def _milligrams(value: int | float) -> dict[str, Any]:
    # `int | float`, not `float`: the compiled build (mypyc) turns an int passed as a float into
    # a float, and the order would say 210.0 mg where the catalog says 210.
    return {"value": value, "unit": "mg", "system": UCUM, "code": "mg"}


def _months(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "months", "system": UCUM, "code": "mo"}


def requester_reference(user_id: str | None) -> str | None:
    """`userId` as an order's requester: only a Practitioner or PractitionerRole reference."""
    if user_id is not None and _REQUESTER_REFERENCE.fullmatch(user_id):
        return user_id
    return None


def encounter_reference(encounter_id: str | None) -> str | None:
    """`encounterId` (an Encounter's FHIR id) as a reference, or None when it is not an id."""
    if encounter_id is None:
        return None
    reference = f"Encounter/{encounter_id}"
    return reference if _ENCOUNTER_REFERENCE.fullmatch(reference) else None


def _base_request(drug: str, patient_id: str, as_of: date, note: str,
                  requester: str | None, encounter: str | None) -> dict[str, Any]:
    product = order_catalog()[drug]
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if encounter is not None:
        request["encounter"] = {"reference": encounter}
    request["authoredOn"] = as_of.isoformat()
    if requester is not None:
        request["requester"] = {"reference": requester}
    request["medicationCodeableConcept"] = {"coding": [product["coding"]], "text": product["text"]}
    request["note"] = [{"text": note}]
    return request


def _dosage(drug: str, timing_repeat: dict[str, Any]) -> dict[str, Any]:
    product = order_catalog()[drug]
    return {
        "sequence": 1,
        "text": product["dosage_text"],
        "timing": {"repeat": timing_repeat},
        "route": {"text": product["route"]},
        "doseAndRate": [{"doseQuantity": _milligrams(product["dose_mg"])}],
    }


def romosozumab_request(patient_id: str, as_of: date, plan: str, *, requester: str | None = None,
                        encounter: str | None = None) -> dict[str, Any]:
    """Draft order: 210 mg SC once monthly as two 105 mg syringes, 12 doses (label 2.1-2.2).

    Twelve doses are said three consistent ways: `timing.repeat.count` 12 monthly
    administrations within `boundsDuration` 12 months, and a dispense of 2 syringes (one dose)
    with 11 repeats allowed (12 fills).
    """
    product = order_catalog()["romosozumab"]
    request = _base_request("romosozumab", patient_id, as_of, plan, requester, encounter)
    repeat = {
        "count": product["doses"],
        "frequency": 1,
        "period": 1,
        "periodUnit": "mo",
        "boundsDuration": _months(product["doses"]),
    }
    request["dosageInstruction"] = [_dosage("romosozumab", repeat)]
    request["dispenseRequest"] = {
        "numberOfRepeatsAllowed": product["doses"] - 1,
        "quantity": {"value": product["syringes_per_dose"], "unit": "prefilled syringe"},
        "expectedSupplyDuration": _months(1),
    }
    return checked_order("romosozumab", request)


def denosumab_request(patient_id: str, as_of: date, note: str, *, requester: str | None = None,
                      encounter: str | None = None) -> dict[str, Any]:
    """Draft order: denosumab 60 mg SC once (the next 6-monthly dose)."""
    request = _base_request("denosumab", patient_id, as_of, note, requester, encounter)
    request["dosageInstruction"] = [
        _dosage("denosumab", {"count": 1, "frequency": 1, "period": 6, "periodUnit": "mo"})
    ]
    request["dispenseRequest"] = {"quantity": {"value": 1, "unit": "prefilled syringe"}}
    return checked_order("denosumab", request)


def zoledronic_acid_request(patient_id: str, as_of: date, note: str, *,
                            requester: str | None = None,
                            encounter: str | None = None) -> dict[str, Any]:
    """Draft order: zoledronic acid 5 mg IV infusion once."""
    request = _base_request("zoledronic-acid", patient_id, as_of, note, requester, encounter)
    request["dosageInstruction"] = [_dosage("zoledronic-acid", {"count": 1})]
    request["dispenseRequest"] = {"quantity": {"value": 100, "unit": "mL", "system": UCUM,
                                               "code": "mL"}}
    return checked_order("zoledronic-acid", request)


def alendronate_request(patient_id: str, as_of: date, note: str, *,
                        requester: str | None = None,
                        encounter: str | None = None) -> dict[str, Any]:
    """Draft order: alendronate 70 mg orally once weekly, four tablets a fill."""
    request = _base_request("alendronate", patient_id, as_of, note, requester, encounter)
    request["dosageInstruction"] = [
        _dosage("alendronate", {"frequency": 1, "period": 1, "periodUnit": "wk"})
    ]
    request["dispenseRequest"] = {
        "quantity": {"value": 4, "unit": "tablet"},
        "expectedSupplyDuration": {"value": 4, "unit": "weeks", "system": UCUM, "code": "wk"},
    }
    return checked_order("alendronate", request)


ORDER_BUILDERS = {
    "romosozumab": romosozumab_request,
    "denosumab": denosumab_request,
    "zoledronic-acid": zoledronic_acid_request,
    "alendronate": alendronate_request,
}


def check_order_templates() -> None:
    """Build one order of every drug for a placeholder patient: a broken order template fails
    here, at start-up, and the fhir.resources R4B models are imported and each drug's fixed part
    remembered before gunicorn forks its workers (the first order a process builds otherwise
    costs ~50 ms more than the next)."""
    for build in ORDER_BUILDERS.values():
        build("start-up-check", date.today(), "Order template check at start-up.")


def validated(request: dict[str, Any]) -> dict[str, Any]:
    """Return `request` unchanged after fhir.resources R4B accepts it (raises otherwise)."""
    MedicationRequest.model_validate(request)
    return request


def checked_order(drug: str, request: dict[str, Any]) -> dict[str, Any]:
    """Return `request` once it is known to be a valid R4 MedicationRequest (raises otherwise).

    The first order of `drug` in the process goes through fhir.resources R4B whole; its fixed part
    (everything but `PER_CALL_FIELDS`) is remembered. A later order whose fixed part is equal
    only needs its per-call fields checked; any other goes through R4B whole again. The test
    suite validates every order it sees with R4B.
    """
    fixed = {key: value for key, value in request.items() if key not in PER_CALL_FIELDS}
    if _validated_fixed_parts.get(drug) == fixed and not per_call_field_problems(request):
        return request
    validated(request)
    problems = per_call_field_problems(request)
    if problems:
        raise ValueError(f"{drug} order: {'; '.join(problems)}")
    _validated_fixed_parts[drug] = fixed
    return request


def per_call_field_problems(request: dict[str, Any]) -> list[str]:
    """What is wrong with an order's subject, authoredOn, note, requester and encounter (empty
    when nothing; the last two may be absent)."""
    problems = []
    if not _reference_matches(request.get("subject"), _PATIENT_REFERENCE):
        problems.append("subject.reference: must be Patient/<FHIR id>")
    if "requester" in request and not _reference_matches(request["requester"],
                                                         _REQUESTER_REFERENCE):
        problems.append("requester.reference: must be Practitioner/<id> or PractitionerRole/<id>")
    if "encounter" in request and not _reference_matches(request["encounter"],
                                                         _ENCOUNTER_REFERENCE):
        problems.append("encounter.reference: must be Encounter/<FHIR id>")
    authored = request.get("authoredOn")
    if not isinstance(authored, str) or not _DATE.fullmatch(authored):
        problems.append("authoredOn: must be a FHIR date")
    notes = request.get("note")
    if not (isinstance(notes, list) and notes
            and all(isinstance(n, dict) and list(n) == ["text"] and isinstance(n["text"], str)
                    and n["text"].strip() for n in notes)):
        problems.append("note: must be annotations with a non-empty text")
    return problems


def _reference_matches(value: Any, pattern: re.Pattern[str]) -> bool:
    """`value` is exactly `{"reference": <text matching pattern>}`."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    reference = value.get("reference")
    return isinstance(reference, str) and pattern.fullmatch(reference) is not None
