"""A small hand-written patient and a test-only card producer for the protocol tests.

Codes are from the research files, all [V]: SNOMED 102447009 postmenopausal osteoporosis;
ICD-10-CM M80.08XA vertebral osteoporotic fracture; LOINC 38267-1 DXA lumbar spine T-score;
RxNorm 2123126 romosozumab (ingredient).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from service.hook_requests import build_hook_request, draft_medication_request
from service.hooks import HookContext

PATIENT_ID = "example-osteo-1"
ROMOSOZUMAB = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2123126",
               "display": "romosozumab"}
ALENDRONATE = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "904431",
               "display": "alendronic acid 70 MG Oral Tablet"}  # [V] knowledge drugs.json
SERVICE_IDS = {
    "patient-view": "osteoporosis-patient-view",
    "order-select": "osteoporosis-order-select",
    "order-sign": "osteoporosis-order-sign",
}


def small_patient_bundle(patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """A collection Bundle: one woman with osteoporosis, a vertebral fracture and a T-score."""
    subject = {"reference": f"Patient/{patient_id}"}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{patient_id}", "resource": {
                "resourceType": "Patient", "id": patient_id, "gender": "female",
                "birthDate": "1952-03-14"}},
            {"resource": {
                "resourceType": "Condition", "id": "op-1", "subject": subject,
                "clinicalStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "102447009",
                                     "display": "Postmenopausal osteoporosis"}]},
                "onsetDateTime": "2023-05-02"}},
            {"resource": {
                "resourceType": "Condition", "id": "vfx-1", "subject": subject,
                "clinicalStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                     "code": "M80.08XA",
                                     "display": "Age-related osteoporosis with current "
                                                "pathological fracture, vertebra(e)"}]},
                "onsetDateTime": "2026-02-10"}},
            {"resource": {
                "resourceType": "Observation", "id": "tscore-ls-1", "status": "final",
                "subject": subject,
                "code": {"coding": [{"system": "http://loinc.org", "code": "38267-1",
                                     "display": "DXA Lumbar spine [T-score] Bone density"}]},
                "effectiveDateTime": "2026-03-01",
                "valueQuantity": {"value": -3.2, "unit": "{T-score}",
                                  "system": "http://unitsofmeasure.org", "code": "{T-score}"}}},
        ],
    }


def alendronate_draft(patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """A weaker agent selected (the README example: the service proposes romosozumab instead)."""
    return draft_medication_request(patient_id, ALENDRONATE, order_id="draft-aln-1",
                                    dosage_text="70 mg orally once weekly")


def romosozumab_draft(patient_id: str = PATIENT_ID) -> dict[str, Any]:
    return draft_medication_request(patient_id, ROMOSOZUMAB, order_id="draft-romo-1",
                                    dosage_text="210 mg subcutaneously once a month")


def hook_request(hook: str, **kwargs: Any) -> dict[str, Any]:
    """A full-prefetch request for `hook` about the small patient (romosozumab drafted)."""
    if hook != "patient-view":
        kwargs.setdefault("draft_orders", [romosozumab_draft()])
    return build_hook_request(hook, small_patient_bundle(), **kwargs)


def no_cards(context: HookContext) -> list[dict[str, Any]]:
    """A producer that never has anything to say."""
    return []


def full_card(context: HookContext) -> list[dict[str, Any]]:
    """Test-only producer: one card using every response feature (suggestions with create and
    delete actions, override reasons, absolute and smart links, source topic)."""
    suggestion: dict[str, Any] = {
        "label": "Order romosozumab 210 mg monthly",
        "uuid": str(uuid.uuid4()),
        "isRecommended": True,
        "actions": [{
            "type": "create",
            "description": "Create a romosozumab order",
            "resource": {
                "resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                "subject": {"reference": f"Patient/{context.patient_id}"},
                "medicationCodeableConcept": {"coding": [dict(ROMOSOZUMAB)]},
            },
        }],
    }
    drafts = context.record.draft_orders
    if drafts:
        suggestion["actions"].append({
            "type": "delete",
            "description": "Remove the draft order it replaces",
            "resourceId": drafts[0].reference,
        })
    return [{
        "uuid": str(uuid.uuid4()),
        "summary": f"Test card for {context.hook} ({len(context.record.conditions)} conditions)",
        "detail": "Markdown **detail** for the protocol tests.",
        "indicator": "warning",
        "source": {
            "label": "osteocds protocol tests",
            "url": "https://example.org/osteocds",
            "topic": {"system": "urn:osteocds:card-topic", "code": "protocol-test",
                      "display": "Protocol test"},
        },
        "suggestions": [suggestion, {"label": "Do nothing", "uuid": str(uuid.uuid4())}],
        "selectionBehavior": "at-most-one",
        "overrideReasons": [
            {"system": "urn:osteocds:override-reason", "code": "patient-declined",
             "display": "Patient declined"},
        ],
        "links": [
            {"label": "Guideline", "url": "https://example.org/guideline", "type": "absolute"},
            {"label": "Risk app", "url": "https://example.org/launch", "type": "smart",
             "appContext": "osteocds"},
        ],
    }]


def card_by_uuid(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {card["uuid"]: card for card in body["cards"]}
