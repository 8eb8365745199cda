"""Persona scenarios from `fhir_fixtures.load_expected()`, and what each card must say.

One case = (persona, hook, draft order or None, expected topic set). The HTTP tests post the
rendered persona through the real Flask app (and a real `osteocds serve` process) and check
topics, indicators and the key facts of each card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import fhir_fixtures
from fhir_fixtures import dates
from service.hook_requests import build_hook_request

AS_OF = date(2026, 6, 15)  # the research reference date; personas are relative to it
SERVICE_IDS = {
    "patient-view": "osteoporosis-patient-view",
    "order-select": "osteoporosis-order-select",
    "order-sign": "osteoporosis-order-sign",
}
ROMOSOZUMAB_RXCUI = "2123184"


@dataclass(frozen=True)
class Case:
    persona: str
    hook: str
    order: str | None
    topics: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.hook}" + (f"-{self.order}" if self.order else "")

    @property
    def draft_id(self) -> str | None:
        if self.order is None:
            return None
        return f"MedicationRequest/{fhir_fixtures.patient_id(self.persona)}-draft-{self.order}"

    def request(self) -> dict[str, Any]:
        bundle = fhir_fixtures.render_persona(self.persona, AS_OF)
        orders = ([fhir_fixtures.draft_order(self.order, self.persona, AS_OF)]
                  if self.order else [])
        return build_hook_request(self.hook, bundle, draft_orders=orders)

    @property
    def path(self) -> str:
        return f"/cds-services/{SERVICE_IDS[self.hook]}"


def all_cases() -> list[Case]:
    expected = fhir_fixtures.load_expected()
    cases = []
    for persona, spec in expected["personas"].items():
        hooks = spec["hooks"]
        cases.append(Case(persona, "patient-view", None,
                          frozenset(hooks["patient-view"]["topics"])))
        for hook in ("order-select", "order-sign"):
            for scenario in hooks.get(hook, []):
                cases.append(Case(persona, hook, scenario["order"],
                                  frozenset(scenario["topics"])))
    return cases


def expected_indicator(case: Case, topic: str) -> str:
    """Indicators per issue 5's topic table."""
    ordered_romosozumab = case.order == "romosozumab" and case.hook != "patient-view"
    decision = fhir_fixtures.load_expected()["personas"][case.persona]["romosozumab"]
    if topic == "romosozumab-cv-contraindication" and decision == "already-on-course":
        return "critical"  # a myocardial infarction or stroke mid-course: stop (boxed warning)
    if topic in {"romosozumab-cv-contraindication", "romosozumab-hypocalcemia"}:
        return "critical" if ordered_romosozumab else "warning"
    if topic == "romosozumab-proposal":
        return "warning" if case.hook == "order-select" else "info"
    info = {"romosozumab-course-progress", "denosumab-next-dose",
            "denosumab-follow-on-monitoring", "very-high-risk-other-agents"}
    return "info" if topic in info else "warning"


def fact_dates(persona: str) -> dict[str, Any]:
    """The persona's date facts rendered for AS_OF (ISO strings)."""
    facts = fhir_fixtures.load_expected()["personas"][persona].get("facts", {})
    rendered: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, dict) and dates.is_date_node(value):
            rendered[key] = dates.resolve(value, AS_OF).isoformat()
        elif isinstance(value, list):
            rendered[key] = [dates.resolve(v, AS_OF).isoformat() for v in value]
        else:
            rendered[key] = value
    return rendered
