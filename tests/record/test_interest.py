"""The record on the request path leaves out Conditions and Observations no rule reads
(`gather_record(..., interest=knowledge)`): the verdict and the cards must not change, and what is
left out is still checked for its patient."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import fhir_fixtures
from cards import build_cards
from service.config import Settings
from service.errors import ForeignPatientData
from service.evaluation import assess
from service.hook_requests import build_hook_request
from service.knowledge import load_knowledge
from service.record import parse
from service.record.gather import gather_record
from service.record.model import PatientRecord
from service.record.queries import service_templates

AS_OF = date(2026, 6, 15)
SETTINGS = Settings(profile="dev")
KNOWLEDGE = load_knowledge()
TEMPLATES = service_templates(KNOWLEDGE)


def _record(request: dict[str, Any], *, filtered: bool) -> PatientRecord:
    return gather_record(request, settings=SETTINGS, templates=TEMPLATES,
                         interest=KNOWLEDGE if filtered else None)


def _request(persona: str) -> dict[str, Any]:
    return build_hook_request("patient-view", fhir_fixtures.render_persona(persona, AS_OF))


def _cards(record: PatientRecord, patient_id: str) -> list[dict[str, Any]]:
    assessment = assess(record, AS_OF, KNOWLEDGE)
    counter = iter(range(1000))
    cards = build_cards("patient-view", assessment, record, KNOWLEDGE, patient_id=patient_id,
                        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}")
    return cards


@pytest.mark.parametrize("persona", fhir_fixtures.persona_ids())
def test_leaving_out_unread_resources_changes_no_verdict_and_no_card(persona: str) -> None:
    request = _request(persona)
    full, filtered = _record(request, filtered=False), _record(request, filtered=True)
    assert assess(filtered, AS_OF, KNOWLEDGE) == assess(full, AS_OF, KNOWLEDGE)
    patient_id = request["context"]["patientId"]
    assert _cards(filtered, patient_id) == _cards(full, patient_id)
    assert set(filtered.conditions) <= set(full.conditions)
    assert set(filtered.observations) <= set(full.observations)
    assert filtered.medications == full.medications


def test_only_unread_resources_are_left_out() -> None:
    request = _request("x02")  # 15 Conditions and 34 Observations, some of them not read
    full, filtered = _record(request, filtered=False), _record(request, filtered=True)
    dropped_conditions = set(full.conditions) - set(filtered.conditions)
    dropped_observations = set(full.observations) - set(filtered.observations)
    assert dropped_conditions
    assert dropped_observations
    for condition in dropped_conditions:
        assert not KNOWLEDGE.value_sets_of(condition.codings)
        assert KNOWLEDGE.match_fracture(condition.codings) is None
    for observation in dropped_observations:
        assert KNOWLEDGE.match_observation(observation.codings, observation.text) is None
    for observation in filtered.observations:
        assert KNOWLEDGE.match_observation(observation.codings, observation.text) is not None


def test_an_unread_resource_of_another_patient_is_still_refused() -> None:
    request = _request("x02")
    bundle = request["prefetch"]["conditions"]
    unread = next(entry["resource"] for entry in bundle["entry"]
                  if not KNOWLEDGE.wants_condition(parse.codings_of(entry["resource"]["code"])))
    unread["subject"] = {"reference": "Patient/someone-else"}
    with pytest.raises(ForeignPatientData):
        _record(request, filtered=True)


def test_an_observation_known_only_by_its_text_is_kept() -> None:
    request = _request("x02")
    entries = request["prefetch"]["observations"]["entry"]
    by_text = next(entry["resource"] for entry in entries
                   if KNOWLEDGE.match_observation((), _display(entry["resource"])) is not None)
    by_text["code"] = {"text": _display(by_text)}  # no coding left: only the text tells
    kept = {o.reference for o in _record(request, filtered=True).observations}
    assert f"Observation/{by_text['id']}" in kept


def _display(resource: dict[str, Any]) -> str:
    return resource["code"].get("text") or resource["code"]["coding"][0].get("display") or ""
