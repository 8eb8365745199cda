"""The request bodies the benchmark sends, built with the project's own request builder from the
fixture patients: patient-view and order-select for the ~50-resource patient (`x02`), and
patient-view for a generated 500-resource patient."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import fhir_fixtures
from service.hook_requests import build_hook_request, patient_id_of

MID_SIZE_PERSONA = "x02"
HEAVY_RESOURCES = 500


@dataclass(frozen=True)
class Scenario:
    name: str
    hook: str
    body_file: Path
    resources: int
    heavy: bool = False

    def concurrencies(self, requested: list[int]) -> list[int]:
        """The heavy patient is measured for latency at concurrency 1 only (target: p50)."""
        return [1] if self.heavy else requested


def _order_for(bundle: dict, drug: str, as_of: date) -> dict:
    patient = patient_id_of([entry["resource"] for entry in bundle["entry"]])
    order = fhir_fixtures.draft_order(drug, MID_SIZE_PERSONA, as_of)
    order["subject"] = {"reference": f"Patient/{patient}"}
    return order


def write_bodies(workdir: Path, as_of: date | None = None) -> list[Scenario]:
    as_of = as_of or date.today()
    mid = fhir_fixtures.render_persona(MID_SIZE_PERSONA, as_of)
    heavy = fhir_fixtures.heavy_patient(HEAVY_RESOURCES, as_of)
    requests_by_name = {
        ("patient-view-50", "patient-view", len(mid["entry"]), False): build_hook_request(
            "patient-view", mid
        ),
        ("order-select-50", "order-select", len(mid["entry"]), False): build_hook_request(
            "order-select", mid, draft_orders=[_order_for(mid, "alendronate", as_of)]
        ),
        ("patient-view-500", "patient-view", len(heavy["entry"]), True): build_hook_request(
            "patient-view", heavy
        ),
    }
    scenarios = []
    for (name, hook, count, is_heavy), body in requests_by_name.items():
        path = workdir / f"{name}.json"
        path.write_text(json.dumps(body))
        scenarios.append(Scenario(name, hook, path, count, is_heavy))
    return scenarios
