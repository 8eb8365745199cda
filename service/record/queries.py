"""The FHIR queries the service needs: one prefetch template per key (CDS Hooks 2.0 subset).

The same templates serve discovery (`prefetch` in `/cds-services`) and the FHIR fallback: a key
the EHR did not prefetch is fetched by filling `{{context.patientId}}` in its template. Only the
2.0 query subset is used (reference by patient, token equality, `_sort`, `_count`), so every EHR
that prefetches at all can honour them.

Every search asks for `_count=1000` (`PAGE_SIZE`): servers page by 20 by default (HAPI), which
would put a 2,000-Observation history at 100 pages, far above `OSTEOCDS_FHIR_MAX_PAGES` (20) and
the time budget; a server with a lower maximum clamps the page size to it.

Observation codes: each entry of `observation_codes` is either a bare LOINC code ("38265-5"),
which is written as `http://loinc.org|38265-5`, or an already system-qualified token
("http://snomed.info/sct|123", kept as is). System-qualified tokens avoid matching the same code
string in another code system; every FHIR R4 server supports `system|code` on token search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

LOINC_SYSTEM = "http://loinc.org"
PATIENT_ID_PLACEHOLDER = "{{context.patientId}}"
PAGE_SIZE = 1000  # `_count` of every search; servers clamp it to their own maximum

PATIENT = "patient"
CONDITIONS = "conditions"
MEDICATION_STATEMENTS = "medicationStatements"
MEDICATION_REQUESTS = "medicationRequests"
MEDICATION_ADMINISTRATIONS = "medicationAdministrations"
OBSERVATIONS = "observations"

PREFETCH_KEYS: tuple[str, ...] = (
    PATIENT,
    CONDITIONS,
    MEDICATION_STATEMENTS,
    MEDICATION_REQUESTS,
    MEDICATION_ADMINISTRATIONS,
    OBSERVATIONS,
)

# The FHIR resource type each key returns (a read for `patient`, searches for the rest).
KEY_RESOURCE_TYPES: dict[str, str] = {
    PATIENT: "Patient",
    CONDITIONS: "Condition",
    MEDICATION_STATEMENTS: "MedicationStatement",
    MEDICATION_REQUESTS: "MedicationRequest",
    MEDICATION_ADMINISTRATIONS: "MedicationAdministration",
    OBSERVATIONS: "Observation",
}


def observation_code_token(code: str) -> str:
    """`system|code` for one observation code; a bare code is taken as LOINC."""
    code = code.strip()
    if not code:
        raise ValueError("empty observation code")
    return code if "|" in code else f"{LOINC_SYSTEM}|{code}"


def local_code_token(code: str) -> str:
    """A bare token (any code system) for one local code; refuses separators it would break."""
    code = code.strip()
    if not code or any(char in code for char in "|,&=# "):
        raise ValueError("a local observation code must be a plain code")
    return code


def prefetch_templates(
    observation_codes: Sequence[str], local_codes: Sequence[str] = ()
) -> dict[str, str]:
    """The six prefetch templates, keyed by `PREFETCH_KEYS`, in that order.

    `observation_codes` are the Observation codes the evaluation reads (from the terminology
    data); duplicates are dropped, order is kept. At least one code is required: an
    Observation search without a code filter would pull every vital sign of the patient.
    `local_codes` are EHR-local codes without a known system (e.g. "frax-mof-10y"): each is
    written as a bare token, which FHIR token search matches in any code system. Without them an
    Observation known only by a local code is neither prefetched nor fetched.
    """
    tokens = list(dict.fromkeys(
        [observation_code_token(code) for code in observation_codes]
        + [local_code_token(code) for code in local_codes]))
    if not tokens:
        raise ValueError("prefetch_templates needs at least one observation code")
    search = f"?patient={PATIENT_ID_PLACEHOLDER}"
    page = f"&_count={PAGE_SIZE}"
    return {
        PATIENT: f"Patient/{PATIENT_ID_PLACEHOLDER}",
        CONDITIONS: f"Condition{search}{page}",
        MEDICATION_STATEMENTS: f"MedicationStatement{search}{page}",
        MEDICATION_REQUESTS: f"MedicationRequest{search}{page}",
        MEDICATION_ADMINISTRATIONS: f"MedicationAdministration{search}{page}",
        OBSERVATIONS: f"Observation{search}&code={','.join(tokens)}&_sort=-date{page}",
    }


class ObservationCodeSource(Protocol):
    """What the templates need from the knowledge data (`service.knowledge.Knowledge`)."""

    def prefetch_observation_codes(self) -> tuple[str, ...]: ...

    def prefetch_local_observation_codes(self) -> tuple[str, ...]: ...


def service_templates(knowledge: ObservationCodeSource) -> dict[str, str]:
    """The service's six templates: LOINC and EHR-local Observation codes from the knowledge data.

    Discovery, the FHIR fallback, `check-fhir-server` and the benchmark all use this one function.
    """
    return prefetch_templates(
        knowledge.prefetch_observation_codes(), knowledge.prefetch_local_observation_codes()
    )


def fill_template(template: str, patient_id: str) -> str:
    """The relative FHIR query for one template and patient (the only token the service uses)."""
    return template.replace(PATIENT_ID_PLACEHOLDER, patient_id)
