"""Every fixture persona through the real HTTP path (Flask test client of `create_app`), for each
hook scenario in `fhir_fixtures.load_expected()`: topics, indicators and the key facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from flask.testing import FlaskClient

import fhir_fixtures
from service.app import create_app
from service.config import Settings
from service.protocol.state import protocol_state
from tests.cards.invariants import check_cards
from tests.conftest import CheckingClient, post_json
from tests.personas.persona_cases import (
    AS_OF,
    ROMOSOZUMAB_RXCUI,
    Case,
    all_cases,
    expected_indicator,
    fact_dates,
)

CASES = all_cases()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = Settings(profile="dev", data_dir=tmp_path_factory.mktemp("data"),
                        database_url=None, dev_as_of=AS_OF)
    app = create_app(settings)
    app.test_client_class = CheckingClient  # schema + no-empty-values checks on every answer
    app.testing = True
    yield app.test_client()
    protocol_state(app).store.close()


def post_case(client: FlaskClient, case: Case) -> list[dict[str, Any]]:
    response = post_json(client, case.path, case.request())
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["cards"]


def test_every_persona_has_cases() -> None:
    personas = {case.persona for case in CASES}
    assert {f"p{n:02d}" for n in range(1, 21)} <= personas
    assert {case.hook for case in CASES} == {"patient-view", "order-select", "order-sign"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_persona_cards_over_http(client: FlaskClient, case: Case) -> None:
    cards = check_cards(post_case(client, case))
    topics = [card["source"]["topic"]["code"] for card in cards]
    assert sorted(topics) == sorted(case.topics), f"{case.id}: got {topics}"
    for card in cards:
        topic = card["source"]["topic"]["code"]
        assert card["indicator"] == expected_indicator(case, topic), (case.id, topic)
        check_key_facts(case, topic, card)


# --- key facts per topic -------------------------------------------------------------------------
def creates(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]
            if a["type"] == "create"]


def deleted_ids(card: dict[str, Any]) -> set[str]:
    return {a["resourceId"] for s in card.get("suggestions", []) for a in s["actions"]
            if a["type"] == "delete"}


def check_key_facts(case: Case, topic: str, card: dict[str, Any]) -> None:
    patient = f"Patient/{fhir_fixtures.patient_id(case.persona)}"
    for order in creates(card):
        MedicationRequest.model_validate(order)
        assert order["subject"]["reference"] == patient
        assert order["status"] == "draft"
    facts = fact_dates(case.persona)
    detail, summary = card["detail"], card["summary"]
    ordered = case.hook != "patient-view" and case.draft_id is not None
    if topic == "romosozumab-proposal":
        codes = [o["medicationCodeableConcept"]["coding"][0]["code"] for o in creates(card)]
        assert ROMOSOZUMAB_RXCUI in codes
        assert "**Criteria met (this patient)**" in detail
        assert "**Exclusions checked**" in detail
        if case.hook == "order-select":
            assert case.draft_id in deleted_ids(card)
    elif topic in {"romosozumab-cv-contraindication", "romosozumab-hypocalcemia",
                   "romosozumab-not-indicated", "denosumab-switch"}:
        if ordered:
            assert case.draft_id in deleted_ids(card), (case.id, topic)
        if topic == "romosozumab-cv-contraindication":
            assert "(contraindication)" in detail
            assert any(ch.isdigit() for ch in summary) or "verify date" in summary
        if topic == "romosozumab-hypocalcemia":
            assert "mg/dL" in summary or "mmol/L" in summary
    elif topic == "romosozumab-course-complete":
        assert f"{facts.get('romosozumab_doses_given', 12)} of 12" in detail
    elif topic == "romosozumab-course-progress":
        doses = facts["romosozumab_doses_given"]
        assert summary == (f"Romosozumab course: dose {doses + 1} of 12 due "
                           f"{facts['romosozumab_next_dose_due']}")
    elif topic == "denosumab-follow-on-monitoring":
        for day in facts["ctx_check_dates"]:
            assert day in summary
    elif topic == "denosumab-next-dose" and "denosumab_next_dose_due" in facts:
        assert facts["denosumab_next_dose_due"] in summary
    elif topic == "denosumab-rebound-fracture":
        assert detail.index("restart denosumab") < detail.index("Romosozumab")
        cv_blocked = case.persona == "p15"
        assert ("may be considered for selected patients" in detail) is not cv_blocked
        assert ("10.1093/jbmrpl/ziaf186" in detail)
    if topic.startswith("denosumab-") and "denosumab_last_dose" in facts:
        assert facts["denosumab_last_dose"] in detail, (case.id, topic)
    if topic == "denosumab-overdue":
        assert facts["denosumab_last_dose"] in summary
