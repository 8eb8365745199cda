"""The prefetch templates are the contract with discovery and the FHIR fallback."""

from __future__ import annotations

import pytest

from service.record.queries import PREFETCH_KEYS, fill_template, prefetch_templates


def test_six_keys_exactly() -> None:
    templates = prefetch_templates(["38265-5"])
    assert tuple(templates) == PREFETCH_KEYS
    assert templates == {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}&_count=1000",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}&_count=1000",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}&_count=1000",
        "medicationAdministrations":
            "MedicationAdministration?patient={{context.patientId}}&_count=1000",
        "observations": "Observation?patient={{context.patientId}}"
        "&code=http://loinc.org|38265-5&_sort=-date&_count=1000",
    }


def test_observation_codes_qualified_deduplicated_in_order() -> None:
    templates = prefetch_templates(["2", "http://snomed.info/sct|9", "2", " 1 "])
    assert templates["observations"].endswith(
        "&code=http://loinc.org|2,http://snomed.info/sct|9,http://loinc.org|1&_sort=-date"
        "&_count=1000"
    )


@pytest.mark.parametrize("codes", [[], [""], ["  "]])
def test_no_code_is_refused(codes: list[str]) -> None:
    with pytest.raises(ValueError, match="code"):
        prefetch_templates(codes)


def test_fill_template() -> None:
    assert fill_template("Condition?patient={{context.patientId}}", "p1") == "Condition?patient=p1"


def test_local_codes_are_bare_tokens_after_the_loinc_ones() -> None:
    templates = prefetch_templates(["38265-5"], local_codes=["frax-mof-10y", "frax-mof-10y"])
    assert templates["observations"] == (
        "Observation?patient={{context.patientId}}"
        "&code=http://loinc.org|38265-5,frax-mof-10y&_sort=-date&_count=1000")


@pytest.mark.parametrize("code", ["", "a|b", "a,b", "a&b=c"])
def test_local_codes_that_would_break_the_query_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="plain code"):
        prefetch_templates(["38265-5"], local_codes=[code])


def test_service_templates_ask_for_local_frax_codes_from_the_knowledge_data() -> None:
    from service.knowledge import load_knowledge
    from service.record.queries import OBSERVATIONS, service_templates

    knowledge = load_knowledge()
    template = service_templates(knowledge)[OBSERVATIONS]
    assert knowledge.prefetch_local_observation_codes()  # FRAX local codes are in the data
    for local in knowledge.prefetch_local_observation_codes():
        assert f",{local}," in template.replace("&", ",")
    assert "http://loinc.org|90265-0" in template
