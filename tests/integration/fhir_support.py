"""Helpers for the FHIR integration tests: observation codes, prefetch built from a server."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from service.knowledge import load_knowledge
from service.record.queries import PAGE_SIZE, PATIENT, fill_template, service_templates

REPO = Path(__file__).resolve().parents[2]
SYNTHEA_DIR = REPO.parent / "shared" / "data" / "synthea"
KNOWLEDGE = load_knowledge()
TEMPLATES = service_templates(KNOWLEDGE)  # exactly the service's own six templates


def paged_templates(count: int) -> dict[str, str]:
    """The service's templates with a small `_count`, so the FHIR path must follow next links."""
    return {key: (template if key == PATIENT else
                  template.replace(f"_count={PAGE_SIZE}", f"_count={count}"))
            for key, template in TEMPLATES.items()}


def prefetch_from_server(base_url: str, patient_id: str,
                         session: requests.Session | None = None) -> dict[str, Any]:
    """What an EHR would prefetch: each template run once, every entry on one page."""
    http = session or requests.Session()
    prefetch: dict[str, Any] = {}
    for key, template in TEMPLATES.items():
        query = fill_template(template, patient_id)  # searches carry _count=PAGE_SIZE (1000)
        response = http.get(f"{base_url}/{query}", timeout=30,
                            headers={"Accept": "application/fhir+json"})
        response.raise_for_status()
        body = response.json()
        if body.get("resourceType") == "Bundle":
            assert not any(link.get("relation") == "next" for link in body.get("link", []))
            body.pop("link", None)
        prefetch[key] = body
    return prefetch


def hook_request(patient_id: str, prefetch: Mapping[str, Any] | None = None,
                 fhir_server: str | None = None, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "3a5a4bbd-1ae8-4a1e-9b4a-8e1b77f4a5d1",
        "context": {"userId": "Practitioner/example", "patientId": patient_id},
    }
    if prefetch is not None:
        request["prefetch"] = dict(prefetch)
    if fhir_server:
        request["fhirServer"] = fhir_server
    if token:
        request["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer",
                                        "expires_in": 300, "scope": "patient/*.read",
                                        "subject": "osteocds"}
    return request
