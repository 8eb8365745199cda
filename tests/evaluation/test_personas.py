"""Every fixture persona (research section 5 + issue overrides) through the record parser and
the evaluation: romosozumab decision, cardiovascular verdict and denosumab state as expected."""

from __future__ import annotations

from datetime import date

import pytest

fhir_fixtures = pytest.importorskip("fhir_fixtures")

from service.config import Settings  # noqa: E402
from service.evaluation import assess  # noqa: E402
from service.knowledge import load_knowledge  # noqa: E402
from service.record.gather import gather_record  # noqa: E402
from service.record.queries import KEY_RESOURCE_TYPES, prefetch_templates  # noqa: E402

AS_OF = date(2026, 6, 15)
EXPECTED = fhir_fixtures.load_expected()
PERSONAS = sorted(EXPECTED["personas"])


def full_prefetch_request(persona_id: str) -> dict:
    resources = fhir_fixtures.patient_resources(persona_id, AS_OF)
    prefetch: dict = {}
    for key, resource_type in KEY_RESOURCE_TYPES.items():
        matching = [r for r in resources if r["resourceType"] == resource_type]
        if resource_type == "Patient":
            prefetch[key] = matching[0]
        else:
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset",
                             "entry": [{"resource": r} for r in matching]}
    return {"hook": "patient-view", "hookInstance": "t",
            "context": {"patientId": fhir_fixtures.patient_id(persona_id), "userId": "x"},
            "prefetch": prefetch}


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


@pytest.mark.parametrize("persona_id", PERSONAS)
def test_persona_outcome(knowledge, persona_id):
    expected = EXPECTED["personas"][persona_id]
    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    record = gather_record(full_prefetch_request(persona_id), settings=Settings(),
                           templates=templates)
    result = assess(record, AS_OF, knowledge, EXPECTED.get("policy", "us"))
    assert result.romosozumab_decision.value == expected["romosozumab"], expected["why"]
    if "cardiovascular" in expected:
        assert result.cardiovascular.verdict.value == expected["cardiovascular"], expected["why"]
    if "denosumab" in expected:
        assert result.denosumab.state.value == expected["denosumab"], expected["why"]


@pytest.mark.parametrize("persona_id", [p for p in PERSONAS if "eu" in EXPECTED["personas"][p]])
def test_persona_outcome_under_eu(knowledge, persona_id):
    expected = EXPECTED["personas"][persona_id]["eu"]
    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    record = gather_record(full_prefetch_request(persona_id), settings=Settings(),
                           templates=templates)
    result = assess(record, AS_OF, knowledge, "eu")
    assert result.romosozumab_decision.value == expected["romosozumab"], expected["why"]
    if "cardiovascular" in expected:
        assert result.cardiovascular.verdict.value == expected["cardiovascular"], expected["why"]


@pytest.mark.parametrize(("persona_id", "documented"), [
    ("p07", True),   # man, 78, osteoporosis and two vertebral fractures: population fails on sex
    ("p08", True),   # premenopausal, glucocorticoid-induced osteoporosis
    ("p01", True),
])
def test_osteoporosis_is_recorded_whatever_the_population(knowledge, persona_id, documented):
    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    record = gather_record(full_prefetch_request(persona_id), settings=Settings(),
                           templates=templates)
    result = assess(record, AS_OF, knowledge)
    assert (result.osteoporosis is not None) is documented


@pytest.mark.parametrize("persona_id", PERSONAS)
def test_condition_lookups_agree_with_and_without_the_record_index(knowledge, persona_id):
    """`first_condition` reads the per-assessment index of condition value sets inside
    `assess` and computes it outside: both give what a direct value-set match gives."""
    from service.evaluation.labs import indexed_observations
    from service.evaluation.risk import first_condition

    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    record = gather_record(full_prefetch_request(persona_id), settings=Settings(),
                           templates=templates)
    for value_set in knowledge.value_set_titles:
        for active_only in (False, True):
            expected = next((c for c in record.conditions
                             if not (active_only and c.is_inactive)
                             and knowledge.match_value_set(value_set, c.codings)), None)
            assert first_condition(record, knowledge, value_set,
                                   active_only=active_only) == expected
            with indexed_observations(record, knowledge):
                assert first_condition(record, knowledge, value_set,
                                       active_only=active_only) == expected


def test_p18s_text_only_smoking_status_is_a_cardiovascular_risk_factor(knowledge):
    """Research P18 "current smoker": the fixture sends the smoking status as text only."""
    templates = prefetch_templates(knowledge.prefetch_observation_codes())
    record = gather_record(full_prefetch_request("p18"), settings=Settings(), templates=templates)
    factors = assess(record, AS_OF, knowledge).cardiovascular.risk_factors
    assert "Current smoker (smoking status, as text)" in [f.description for f in factors]
