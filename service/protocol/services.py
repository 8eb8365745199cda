"""The three CDS services osteocds offers and their discovery entries.

Service ids are a contract with EHR configurations: never rename them. All three share the same
six prefetch templates (`service.record.queries.prefetch_templates`), whose Observation code list
is generated from the terminology data (`Knowledge.prefetch_observation_codes()`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.errors import UnknownService


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One CDS service: what discovery says about it and which hook it answers."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    usage_requirements: str = ""

    def discovery_entry(self) -> dict[str, Any]:
        """This service as a CDS Hooks 2.0 discovery entry (no empty fields)."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        return entry


PATIENT_VIEW_ID = "osteoporosis-patient-view"
ORDER_SELECT_ID = "osteoporosis-order-select"
ORDER_SIGN_ID = "osteoporosis-order-sign"

_SERVICE_TEXTS: tuple[tuple[str, str, str, str], ...] = (
    (
        PATIENT_VIEW_ID,
        "patient-view",
        "Osteoporosis: very high fracture risk and denosumab continuity",
        "When a patient's record is opened: flags very high fracture risk where romosozumab "
        "could be considered, and warns when denosumab appears to have been stopped or delayed "
        "without follow-on therapy.",
    ),
    (
        ORDER_SELECT_ID,
        "order-select",
        "Osteoporosis: romosozumab proposal and exclusions while ordering",
        "While an order is being selected: proposes a signable romosozumab order for patients at "
        "very high fracture risk, and warns about romosozumab exclusions (myocardial infarction "
        "or stroke in the preceding 12 months, hypocalcemia, a completed 12-dose course, use "
        "outside the label) and about stopping denosumab.",
    ),
    (
        ORDER_SIGN_ID,
        "order-sign",
        "Osteoporosis: final romosozumab safety check at signing",
        "When orders are signed: shows blocks only (romosozumab exclusions and denosumab "
        "discontinuation risks found in the orders being signed), never proposals (a stateless "
        "service cannot know what order-select showed, and some EHRs fire only one hook).",
    ),
)


# CDS Hooks 2.0 discovery `usageRequirements`: what an EHR must give for the cards to be right.
USAGE_REQUIREMENTS = (
    "FHIR R4 data of the patient: Patient, Condition, MedicationStatement, MedicationRequest, "
    "MedicationAdministration and Observation, in prefetch or readable at fhirServer with the "
    "given token (SMART patient/*.read scopes for those types). order-select and order-sign: "
    "draftOrders with an id on each MedicationRequest, so cards can name the order to remove."
)


def build_service_definitions(prefetch: Mapping[str, str]) -> tuple[ServiceDefinition, ...]:
    """The three services, each with the same `prefetch` templates."""
    return tuple(
        ServiceDefinition(id=sid, hook=hook, title=title, description=text, prefetch=prefetch,
                          usage_requirements=USAGE_REQUIREMENTS)
        for sid, hook, title, text in _SERVICE_TEXTS
    )


class ServiceRegistry:
    """Looks services up by id; serves the discovery document."""

    def __init__(self, definitions: Sequence[ServiceDefinition]) -> None:
        self._by_id = {definition.id: definition for definition in definitions}
        if len(self._by_id) != len(definitions):
            raise ValueError("duplicate CDS service id")

    def __iter__(self) -> Iterator[ServiceDefinition]:
        return iter(self._by_id.values())

    def get(self, service_id: str) -> ServiceDefinition:
        """The service with `service_id`; `UnknownService` (404) otherwise, whose message does not
        repeat the id (error messages never echo a request value)."""
        try:
            return self._by_id[service_id]
        except KeyError:
            raise UnknownService(
                "No CDS service with this id; GET /cds-services lists them.") from None

    def discovery(self) -> dict[str, Any]:
        """The `GET /cds-services` body."""
        return {"services": [definition.discovery_entry() for definition in self]}
