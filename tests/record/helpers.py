"""Small hand-written FHIR R4 resources and hook requests for the record tests."""

from __future__ import annotations

from typing import Any

from service.record.queries import prefetch_templates

PATIENT_ID = "pat-1"
OBSERVATION_CODES = ("38265-5", "17861-6")
TEMPLATES = prefetch_templates(OBSERVATION_CODES)


def subject(patient_id: str = PATIENT_ID) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def patient(patient_id: str = PATIENT_ID, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id, "gender": "female",
            "birthDate": "1950-06-15", **extra}


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def condition(resource_id: str, code: str = "22298006", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": resource_id, "subject": subject(),
            "code": concept("http://snomed.info/sct", code, "Myocardial infarction"), **extra}


def administration(resource_id: str, when: str = "2024-01-10", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationAdministration", "id": resource_id, "status": "completed",
            "subject": subject(), "effectiveDateTime": when,
            "medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm",
                                                 "993449", "denosumab 60 MG"), **extra}


def statement(resource_id: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": resource_id, "status": "active",
            "subject": subject(), "effectivePeriod": {"start": "2023-01-01", "end": "2023-07-01"},
            "medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm",
                                                 "904419", "alendronate"), **extra}


def med_request(resource_id: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": resource_id, "status": "active",
            "intent": "order", "subject": subject(), "authoredOn": "2022-05-03T10:00:00+02:00",
            "medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm",
                                                 "904419", "alendronate"), **extra}


def observation(resource_id: str, code: str = "38265-5", value: float = -3.1,
                **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": resource_id, "status": "final",
            "subject": subject(), "code": concept("http://loinc.org", code),
            "effectiveDateTime": "2024-02-01",
            "valueQuantity": {"value": value, "unit": "{T-score}"},
            **extra}


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "entry": [{"fullUrl": f"urn:test:{r['resourceType']}/{r['id']}", "resource": r}
                  for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def full_prefetch() -> dict[str, Any]:
    return {
        "patient": patient(),
        "conditions": searchset(condition("c1")),
        "medicationStatements": searchset(statement("s1")),
        "medicationRequests": searchset(med_request("r1")),
        "medicationAdministrations": searchset(administration("a1")),
        "observations": searchset(observation("o1")),
    }


def hook_request(prefetch: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": PATIENT_ID},
    }
    if prefetch is not None:
        request["prefetch"] = prefetch
    request.update(extra)
    return request
