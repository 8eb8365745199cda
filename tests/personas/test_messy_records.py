"""Real records say things the personas do not: a denosumab order the EHR marked `stopped`, an
order intent that specialises `order`, an abated diagnosis without a clinicalStatus, a result
dated only by `issued`. Each persona, edited one field at a time, must still get its cards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import fhir_fixtures
from tests.personas.calls import persona_cards, post_hook, the_card, topic_of
from tests.personas.persona_cases import AS_OF

Bundle = dict[str, Any]


def topics(make_app, bundle: Bundle) -> list[str]:
    return [topic_of(card) for card in post_hook(make_app, "patient-view", bundle)]


def edited(persona: str, resource_id: str, edit: Callable[[dict[str, Any]], None]) -> Bundle:
    bundle = fhir_fixtures.render_persona(persona, AS_OF)
    found = [e["resource"] for e in bundle["entry"]
             if e["resource"].get("id", "").endswith(resource_id)]
    assert found, resource_id
    for resource in found:
        edit(resource)
    return bundle


def all_denosumab(persona: str, edit: Callable[[dict[str, Any]], None]) -> Bundle:
    return edited(persona, "", lambda r: edit(r) if r["resourceType"] == "MedicationRequest"
                  else None)


def test_p12_as_sent_is_overdue(make_app):
    assert "denosumab-overdue" in topics(make_app, fhir_fixtures.render_persona("p12", AS_OF))


@pytest.mark.parametrize("status", ["stopped", "on-hold"])
def test_p12_denosumab_orders_marked_stopped_still_warn(make_app, status):
    bundle = all_denosumab("p12", lambda r: r.update(status=status))
    assert "denosumab-overdue" in topics(make_app, bundle)


@pytest.mark.parametrize("intent", ["original-order", "instance-order"])
def test_p12_order_intent_specialisations_still_warn(make_app, intent):
    bundle = all_denosumab("p12", lambda r: r.update(intent=intent))
    assert "denosumab-overdue" in topics(make_app, bundle)


def test_p12_a_plan_is_not_a_dose(make_app):
    bundle = all_denosumab("p12", lambda r: r.update(intent="plan"))
    assert "denosumab-overdue" not in topics(make_app, bundle)


def _abated_hypocalcemia(resource: dict[str, Any]) -> None:
    del resource["clinicalStatus"]
    resource["abatementDateTime"] = "2026-01-01"


def test_p10_an_abated_hypocalcemia_without_status_does_not_block(make_app):
    """P10 with a normal calcium: the diagnosis alone blocked; abated (con-4), it does not."""
    bundle = edited("p10", "-calcium", lambda r: r["valueQuantity"].update(value=9.4))
    for entry in bundle["entry"]:
        if entry["resource"].get("id", "").endswith("-hypocalcemia"):
            _abated_hypocalcemia(entry["resource"])
    found = topics(make_app, bundle)
    assert "romosozumab-hypocalcemia" not in found
    assert "romosozumab-proposal" in found


def test_p10_an_active_hypocalcemia_without_abatement_still_blocks(make_app):
    bundle = edited("p10", "-calcium", lambda r: r["valueQuantity"].update(value=9.4))
    assert "romosozumab-hypocalcemia" in topics(make_app, bundle)


def test_p17_a_t_score_dated_only_by_issued_still_counts(make_app):
    """P17's only criterion is the femoral-neck T-score (AACE A5)."""
    def issued_only(resource: dict[str, Any]) -> None:
        resource["issued"] = resource.pop("effectiveDateTime") + "T10:00:00Z"
    bundle = edited("p17", "-dxa-fn", issued_only)
    assert "romosozumab-proposal" in topics(make_app, bundle)
    undated = edited("p17", "-dxa-fn", lambda r: r.pop("effectiveDateTime"))
    assert "romosozumab-proposal" not in topics(make_app, undated)


@pytest.mark.parametrize("system", ["urn:oid:2.16.840.1.113883.6.90",  # ICD-10-CM by OID
                                    "urn:oid:2.16.840.1.113883.6.96",  # SNOMED CT by OID
                                    "http://snomed.info/sct/"])
def test_p02_an_mi_coded_by_oid_or_trailing_slash_still_blocks(make_app, system):
    """P02 (MI 11 months ago): the MI's codings re-spelled; the contraindication must hold."""
    icd = system.endswith(".90")

    def respell(resource: dict[str, Any]) -> None:  # the one coding left, in the new spelling
        codings = [c for c in resource["code"]["coding"]
                   if c["system"].endswith("icd-10-cm") == icd]
        assert len(codings) == 1
        codings[0]["system"] = system
        resource["code"]["coding"] = codings
    bundle = edited("p02", "-mi", respell)
    found = topics(make_app, bundle)
    assert "romosozumab-cv-contraindication" in found
    assert "romosozumab-proposal" not in found


def _verification(status: str) -> Callable[[dict[str, Any]], None]:
    def edit(resource: dict[str, Any]) -> None:
        resource["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": status}]}
    return edit


def details(make_app, bundle: Bundle) -> dict[str, str]:
    return {topic_of(card): card["detail"] for card in post_hook(make_app, "patient-view", bundle)}


@pytest.mark.parametrize("status", ["provisional", "differential", "unconfirmed"])
def test_an_unconfirmed_fracture_is_shown_as_such(make_app, status):
    """P18's recent hip fracture carries the proposal: unconfirmed, the card says so."""
    bundle = edited("p18", "-fx-hip", _verification(status))
    detail = details(make_app, bundle)["romosozumab-proposal"]
    assert f"diagnosis {status}: verify" in detail


def test_a_confirmed_fracture_has_no_such_note(make_app):
    bundle = edited("p18", "-fx-hip", _verification("confirmed"))
    assert "verify" not in details(make_app, bundle)["romosozumab-proposal"].split(
        "**Exclusions checked**")[0]


def test_an_unconfirmed_mi_still_blocks_and_says_so(make_app):
    bundle = edited("p02", "-mi", _verification("provisional"))
    detail = details(make_app, bundle)["romosozumab-cv-contraindication"]
    assert "diagnosis provisional: verify" in detail


def _ongoing_denosumab_statement(start: str, asserted: str) -> Bundle:
    """P11 with its administrations replaced by one statement of ongoing denosumab use."""
    bundle = fhir_fixtures.render_persona("p11", AS_OF)
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"]["resourceType"] != "MedicationAdministration"]
    bundle["entry"].append({"resource": {
        "resourceType": "MedicationStatement", "id": "dmab-statement", "status": "active",
        "subject": {"reference": f"Patient/{fhir_fixtures.patient_id('p11')}"},
        "medicationCodeableConcept": {"coding": [{
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "993452"}],
            "text": "denosumab 60 MG/ML Prefilled Syringe"},
        "effectivePeriod": {"start": start}, "dateAsserted": asserted}})
    return bundle


def test_an_ongoing_statement_start_is_not_called_the_last_dose(make_app):
    """'Active since 2025-06-01' says when use began, not when the last injection was."""
    cards = post_hook(make_app, "patient-view",
                      _ongoing_denosumab_statement("2025-06-01", "2026-06-01"))
    card = the_card(cards, "denosumab-overdue")
    assert card["summary"].startswith("Denosumab: no dose recorded since 2025-06-01")
    assert "last dose" not in card["summary"]
    assert "Denosumab use: " in card["detail"]
    assert "verify the date of the last injection" in card["detail"]


def test_an_administered_dose_keeps_the_last_dose_wording(make_app):
    card = the_card(persona_cards(make_app, "p12"), "denosumab-overdue")
    assert card["summary"].startswith("Denosumab overdue: last dose")
    assert "Last denosumab dose: " in card["detail"]
    assert "verify the date of the last injection" not in card["detail"]


@pytest.mark.parametrize("code", [
    {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I21.4"}]},  # WHO ICD-10
    {"coding": [{"system": "urn:oid:1.2.3.4.5", "code": "MI-1"}], "text": "Heart attack"},
    {"text": "Acute myocardial infarction"},  # text only
])
def test_p02_an_mi_the_service_cannot_read_is_said_not_silently_absent(make_app, code):
    """The MI coded in a system osteocds does not read: the proposal can no longer say 'no MI
    or stroke found in the record' as if the record were clean; it says what it could not read."""
    bundle = edited("p02", "-mi", lambda r: r.update(code=code))
    detail = details(make_app, bundle)["romosozumab-proposal"]
    assert "No myocardial infarction or stroke found in the record." not in detail
    assert "among the conditions osteocds could read" in detail
    assert ("Problems and diagnoses could not be read: 1 coded only as text or in a code "
            "system osteocds does not read") in detail


def test_coded_conditions_the_rules_do_not_need_are_not_called_unread(make_app):
    """P01 with an asthma diagnosis (SNOMED 195967001): coded in a system the rules read, not
    in a value set: read and set aside, not 'could not be read'."""
    bundle = fhir_fixtures.render_persona("p01", AS_OF)
    bundle["entry"].append({"resource": {
        "resourceType": "Condition", "id": "asthma",
        "subject": {"reference": f"Patient/{fhir_fixtures.patient_id('p01')}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001"}]}}})
    detail = details(make_app, bundle)["romosozumab-proposal"]
    assert "No myocardial infarction or stroke found in the record." in detail
    assert "could not be read" not in detail


def test_many_unread_conditions_are_named_up_to_five(make_app):
    """x02's problem list has 7 text-only entries: five named, the rest counted."""
    detail = details(make_app, fhir_fixtures.render_persona("x02", AS_OF))[
        "romosozumab-proposal"]
    line = next(line for line in detail.splitlines() if "could not be read" in line)
    assert "7 coded only as text" in line
    assert ("(Cataract; Chronic low back pain; Gastro-oesophageal reflux disease; "
            "Hypothyroidism; Insomnia; and 2 more)") in line
