"""Expand persona templates into FHIR R4 resources and Bundles.

A template is plain data (``personas/<id>.json`` or a generator in `volume.py`): the patient and
a list of resource shorthands whose dates are offsets from `as_of` (see `dates.py`) and whose codes
are aliases ("sct:102447009") resolved from ``codes.json``. Every shorthand may carry a ``fhir``
object merged into the rendered resource last, for anything the shorthand does not cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fhir_fixtures import dates

FIXTURE_BASE = "https://fixtures.osteocds.example/fhir"
ID_PREFIX = "osteocds-"
MAX_FHIR_ID = 64

UCUM = "http://unitsofmeasure.org"
UNIT_DISPLAY = {"mL/min/{1.73_m2}": "mL/min/1.73m2", "{T-score}": "{T-score}"}
HL7 = "http://terminology.hl7.org/CodeSystem/"
CONDITION_CLINICAL = HL7 + "condition-clinical"
CONDITION_VERIFICATION = HL7 + "condition-ver-status"
CONDITION_CATEGORY = HL7 + "condition-category"
OBSERVATION_CATEGORY = HL7 + "observation-category"
INTERPRETATION = HL7 + "v3-ObservationInterpretation"
CATEGORY_DISPLAY = {
    "problem-list-item": "Problem List Item",
    "encounter-diagnosis": "Encounter Diagnosis",
    "laboratory": "Laboratory",
    "imaging": "Imaging",
    "social-history": "Social History",
    "survey": "Survey",
    "exam": "Exam",
}
INTERPRETATION_DISPLAY = {"L": "Low", "LL": "Critical low", "N": "Normal", "H": "High"}


class TemplateError(ValueError):
    """A persona template is malformed (names the persona and the resource key)."""


@cache
def code_table() -> dict[str, Any]:
    """The code allow-list (``codes.json``): systems, codes with provenance, FHIR systems."""
    text = resources.files("fhir_fixtures").joinpath("codes.json").read_text(encoding="utf-8")
    return json.loads(text)


def coding(alias: str) -> dict[str, str]:
    """The FHIR Coding for an allow-listed alias such as ``sct:102447009``."""
    table = code_table()
    entry = table["codes"].get(alias)
    if entry is None:
        raise TemplateError(f"code {alias!r} is not in fhir_fixtures/codes.json")
    system_alias, code = alias.split(":", 1)
    return {"system": table["systems"][system_alias], "code": code, "display": entry["display"]}


def concept(aliases: Iterable[str], text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept from code aliases and an optional text."""
    result: dict[str, Any] = {}
    codings = [coding(alias) for alias in aliases]
    if codings:
        result["coding"] = codings
    if text:
        result["text"] = text
    if not result:
        raise TemplateError("a CodeableConcept needs codes or text")
    return result


def _fhir_concept(system: str, code: str) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, "display": CATEGORY_DISPLAY.get(code, code)}]
    }


def quantity(value: float | int, unit: str) -> dict[str, Any]:
    """A UCUM Quantity; `unit` is the UCUM code."""
    return {"value": value, "unit": UNIT_DISPLAY.get(unit, unit), "system": UCUM, "code": unit}


def patient_id(persona_id: str) -> str:
    """The stable FHIR id of a persona's Patient."""
    return ID_PREFIX + persona_id


def resource_id(persona_id: str, key: str) -> str:
    """The stable FHIR id of one of a persona's resources."""
    rid = f"{patient_id(persona_id)}-{key}"
    if len(rid) > MAX_FHIR_ID:
        raise TemplateError(f"id {rid!r} longer than {MAX_FHIR_ID} characters")
    return rid


class _Renderer:
    """Renders one template on one date."""

    def __init__(self, template: Mapping[str, Any], as_of: date) -> None:
        self.template = template
        self.as_of = as_of
        self.persona_id: str = template["id"]
        self.subject = {"reference": f"Patient/{patient_id(self.persona_id)}"}

    def date(self, node: Any) -> str:
        if not dates.is_date_node(node):
            raise TemplateError(f"{self.persona_id}: {node!r} is not a date node")
        return dates.render(node, self.as_of)

    def patient(self) -> dict[str, Any]:
        spec = self.template["patient"]
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": patient_id(self.persona_id),
            "identifier": [{"system": "urn:osteocds:fixture-persona", "value": self.persona_id}],
            "active": True,
            "name": [spec["name"]],
            "gender": spec["gender"],
            "birthDate": self.date(spec["birth"]),
        }
        if "deceased" in spec:
            resource["deceasedDateTime"] = self.date(spec["deceased"])
        return _merge(resource, spec.get("fhir", {}))

    def resource(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        builders = {
            "Condition": self._condition,
            "Observation": self._observation,
            "MedicationStatement": self._statement,
            "MedicationRequest": self._request,
            "MedicationAdministration": self._administration,
        }
        kind = spec.get("type")
        if kind not in builders or "key" not in spec:
            raise TemplateError(
                f"{self.persona_id}: resource needs a key and a known type: {spec!r}"
            )
        resource = {"resourceType": kind, "id": resource_id(self.persona_id, spec["key"])}
        resource.update(builders[kind](spec))
        return _merge(resource, spec.get("fhir", {}))

    def _condition(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clinicalStatus": _fhir_concept(CONDITION_CLINICAL, spec.get("clinical", "active")),
            "verificationStatus": _fhir_concept(
                CONDITION_VERIFICATION, spec.get("verification", "confirmed")
            ),
            "category": [
                _fhir_concept(CONDITION_CATEGORY, spec.get("category", "problem-list-item"))
            ],
            "code": concept(spec.get("codes", ()), spec.get("text")),
            "subject": self.subject,
        }
        if "onset" in spec:
            out["onsetDateTime"] = self.date(spec["onset"])
        if "abatement" in spec:
            out["abatementDateTime"] = self.date(spec["abatement"])
        if "recorded" in spec:
            out["recordedDate"] = self.date(spec["recorded"])
        if "note" in spec:
            out["note"] = [{"text": spec["note"]}]
        return out

    def _observation(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": spec.get("status", "final"),
            "category": [_fhir_concept(OBSERVATION_CATEGORY, spec.get("category", "laboratory"))],
            "code": concept(spec.get("codes", ()), spec.get("text")),
            "subject": self.subject,
            "effectiveDateTime": self.date(spec["effective"]),
        }
        if "body_site_text" in spec:
            out["bodySite"] = {"text": spec["body_site_text"]}
        if "value" in spec:
            out["valueQuantity"] = quantity(*spec["value"])
        if "value_codes" in spec or "value_text" in spec:
            out["valueCodeableConcept"] = concept(
                spec.get("value_codes", ()), spec.get("value_text")
            )
        if "interpretation" in spec:
            code = spec["interpretation"]
            out["interpretation"] = [
                {
                    "coding": [
                        {
                            "system": INTERPRETATION,
                            "code": code,
                            "display": INTERPRETATION_DISPLAY[code],
                        }
                    ]
                }
            ]
        reference_range = self._reference_range(spec)
        if reference_range:
            out["referenceRange"] = [reference_range]
        return out

    @staticmethod
    def _reference_range(spec: Mapping[str, Any]) -> dict[str, Any]:
        unit = spec["value"][1] if "value" in spec else None
        reference_range: dict[str, Any] = {}
        if "ref_low" in spec:
            reference_range["low"] = quantity(spec["ref_low"], unit)
        if "ref_high" in spec:
            reference_range["high"] = quantity(spec["ref_high"], unit)
        return reference_range

    def _medication(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        if "contained_med" in spec:
            med_id = "med"
            return {
                "contained": [
                    {
                        "resourceType": "Medication",
                        "id": med_id,
                        "code": concept(spec["contained_med"], spec.get("text")),
                    }
                ],
                "medicationReference": {"reference": f"#{med_id}"},
            }
        return {"medicationCodeableConcept": concept(spec.get("med", ()), spec.get("text"))}

    def _statement(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = self._medication(spec)
        out.update({"status": spec.get("status", "active"), "subject": self.subject})
        if "effective" in spec:
            out["effectiveDateTime"] = self.date(spec["effective"])
        period = self._period(spec)
        if period:
            out["effectivePeriod"] = period
        if "asserted" in spec:
            out["dateAsserted"] = self.date(spec["asserted"])
        if "dosage_text" in spec:
            out["dosage"] = [{"text": spec["dosage_text"]}]
        return out

    def _period(self, spec: Mapping[str, Any]) -> dict[str, str]:
        period = {}
        if "period_start" in spec:
            period["start"] = self.date(spec["period_start"])
        if "period_end" in spec:
            period["end"] = self.date(spec["period_end"])
        return period

    def _request(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = self._medication(spec)
        out.update(
            {
                "status": spec.get("status", "active"),
                "intent": spec.get("intent", "order"),
                "subject": self.subject,
                "authoredOn": self.date(spec["authored"]),
            }
        )
        if "dosage_text" in spec:
            out["dosageInstruction"] = [{"text": spec["dosage_text"]}]
        return out

    def _administration(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = self._medication(spec)
        out.update(
            {
                "status": spec.get("status", "completed"),
                "subject": self.subject,
                "effectiveDateTime": self.date(spec["effective"]),
            }
        )
        dosage: dict[str, Any] = {}
        if "dose" in spec:
            dosage["dose"] = quantity(*spec["dose"])
        if "route_text" in spec:
            dosage["route"] = {"text": spec["route_text"]}
        if dosage:
            out["dosage"] = dosage
        return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    merged.update(extra)
    return merged


def render_resources(template: Mapping[str, Any], as_of: date) -> list[dict[str, Any]]:
    """Patient first, then the template's resources in template order."""
    renderer = _Renderer(template, as_of)
    rendered = [renderer.patient()]
    rendered.extend(renderer.resource(spec) for spec in template.get("resources", ()))
    ids = [(item["resourceType"], item["id"]) for item in rendered]
    if len(ids) != len(set(ids)):
        raise TemplateError(f"{template['id']}: duplicate resource keys")
    return rendered


def full_url(resource: Mapping[str, Any]) -> str:
    """The stable absolute fullUrl of a fixture resource."""
    return f"{FIXTURE_BASE}/{resource['resourceType']}/{resource['id']}"


def collection_bundle(bundle_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR R4 collection Bundle of `items` with stable fullUrls."""
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "collection",
        "entry": [{"fullUrl": full_url(item), "resource": item} for item in items],
    }


def transaction_bundle(bundle_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR R4 transaction Bundle that PUTs every item on its stable id (idempotent load)."""
    entries = [
        {
            "fullUrl": full_url(item),
            "resource": item,
            "request": {"method": "PUT", "url": f"{item['resourceType']}/{item['id']}"},
        }
        for item in items
    ]
    return {"resourceType": "Bundle", "id": bundle_id, "type": "transaction", "entry": entries}
