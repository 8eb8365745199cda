"""The whole verdict for one patient on one date: `assess(record, as_of, knowledge, policy)`."""

from __future__ import annotations

from datetime import date

from service.evaluation.calcium import assess_hypocalcemia, latest_vitamin_d
from service.evaluation.cardiovascular import assess_cardiovascular
from service.evaluation.denosumab import assess_denosumab
from service.evaluation.facts import DrugUse
from service.evaluation.fractures import fracture_events
from service.evaluation.labs import indexed_observations
from service.evaluation.model import (
    Assessment,
    CardiovascularAssessment,
    CardiovascularVerdict,
    CriterionResult,
    RomosozumabCourse,
    RomosozumabDecision,
    Status,
)
from service.evaluation.orders import classify_orders
from service.evaluation.risk import (
    bone_density,
    low_bone_mass,
    osteoporosis_evidence,
    population,
    risk_criteria,
    very_high_risk,
)
from service.evaluation.romosozumab import romosozumab_course
from service.evaluation.safety import safety_gates
from service.evaluation.therapy import drug_uses, in_use_on, use_description
from service.knowledge import Knowledge
from service.record.model import PatientRecord, condition_label


def assess(record: PatientRecord, as_of: date, knowledge: Knowledge, policy: str = "us"
           ) -> Assessment:
    """Evaluate every criterion for `record` on `as_of` under the `us` or `eu` CV policy.

    Pure: no I/O, no clock. Raises KeyError for an unknown policy name.
    """
    with indexed_observations(record, knowledge):
        return _assess(record, as_of, knowledge, policy)


def _assess(record: PatientRecord, as_of: date, knowledge: Knowledge, policy: str
            ) -> Assessment:
    knowledge.cv_policy(policy)
    density = bone_density(record, knowledge)
    events = fracture_events(record, knowledge, low_bone_mass(record, knowledge, density))
    uses = drug_uses(record, knowledge, as_of)
    orders = classify_orders(knowledge, record.draft_orders)
    pop = population(record, knowledge, as_of, events, density)
    criteria = risk_criteria(record, knowledge, as_of, events, density, uses)
    vhr = very_high_risk(knowledge, criteria)
    cv = assess_cardiovascular(record, knowledge, as_of, policy)
    calcium = assess_hypocalcemia(record, knowledge, as_of)
    course = romosozumab_course(knowledge, uses, record.draft_orders)
    deceased = bool(record.patient and record.patient.deceased)
    other_anabolics = [u for u in in_use_on(uses, "anabolic", as_of)
                       if u.match.drug.id != "romosozumab"]
    decision, reasons = _decide(record, deceased, pop, vhr, cv, calcium, course,
                                other_anabolics)
    dmab = assess_denosumab(knowledge, as_of, uses, events, orders)
    rebound_allowed = bool(dmab.rebound_fractures) and _rebound_romosozumab_allowed(
        record, deceased, pop, cv, calcium, course)
    unread = unread_conditions(record, knowledge)
    return Assessment(
        as_of=as_of, knowledge_version=knowledge.version, policy=policy, deceased=deceased,
        population=pop, very_high_risk=vhr, risk_criteria=criteria, cardiovascular=cv,
        hypocalcemia=calcium, romosozumab_course=course, romosozumab_decision=decision,
        denosumab=dmab,
        safety_gates=safety_gates(record, knowledge, as_of, calcium, cv),
        orders=orders,
        data_gaps=tuple(gap_sentences(record) + unread_sentences(unread)),
        rebound_romosozumab_allowed=rebound_allowed, decision_reasons=tuple(reasons),
        disabled_criteria=_disabled(knowledge),
        osteoporosis=osteoporosis_evidence(record, knowledge, events, density),
        vitamin_d=(latest_vitamin_d(record, knowledge, as_of)
                   if calcium.status is Status.MET else None),
        unread_conditions=len(unread))


def _decide(record: PatientRecord, deceased: bool, pop: CriterionResult, vhr: CriterionResult,
            cv: CardiovascularAssessment, calcium: CriterionResult, course: RomosozumabCourse,
            other_anabolics: list[DrugUse]) -> tuple[RomosozumabDecision, list[str]]:
    if deceased:
        return RomosozumabDecision.DECEASED, ["patient deceased"]
    if pop.status is Status.NOT_MET:
        return RomosozumabDecision.NOT_INDICATED, [pop.note or "outside the labelled population"]
    if pop.status is Status.UNKNOWN:
        return RomosozumabDecision.INSUFFICIENT_DATA, [pop.note or "population unknown"]
    if course.complete:
        return RomosozumabDecision.COURSE_COMPLETE, ["12 monthly doses already given"]
    if course.doses_given:
        return RomosozumabDecision.ALREADY_ON_COURSE, _course_reasons(course, cv)
    if other_anabolics:
        return RomosozumabDecision.ON_OTHER_ANABOLIC, [
            "already on an anabolic agent: " + ", ".join(use_description(u)
                                                         for u in other_anabolics)]
    if vhr.status is not Status.MET:
        return RomosozumabDecision.NOT_VERY_HIGH_RISK, ["no very-high-risk criterion met"]
    blocks = []
    if cv.verdict is CardiovascularVerdict.CONTRAINDICATED:
        blocks.append("myocardial infarction or stroke (cardiovascular contraindication)")
    if calcium.status is Status.MET:
        blocks.append("hypocalcemia")
    if blocks:
        return RomosozumabDecision.CONTRAINDICATED, blocks
    if not record.is_complete or cv.verdict is CardiovascularVerdict.UNKNOWN:
        return RomosozumabDecision.INSUFFICIENT_DATA, [
            "part of the record could not be read: no contraindication can be ruled out"]
    reasons = ["very high fracture risk, labelled population, no contraindication found"]
    if calcium.status is Status.UNKNOWN:
        reasons.append(calcium.note or "check calcium before the first dose")
    return RomosozumabDecision.PROPOSE, reasons


def _course_reasons(course: RomosozumabCourse, cv: CardiovascularAssessment) -> list[str]:
    """Mid-course: the next dose, unless a myocardial infarction or stroke blocks it (the boxed
    warning: discontinue when one occurs during therapy)."""
    if cv.verdict is CardiovascularVerdict.CONTRAINDICATED:
        return ["myocardial infarction or stroke (cardiovascular contraindication): "
                "discontinue the course"]
    return [f"dose {course.doses_given + 1} of 12 due {course.next_dose_due}"]


def _rebound_romosozumab_allowed(record: PatientRecord, deceased: bool, pop: CriterionResult,
                                 cv: CardiovascularAssessment, calcium: CriterionResult,
                                 course: RomosozumabCourse) -> bool:
    """Sarli 2025 option: population, CV and calcium checks pass, complete data, no full course."""
    return (not deceased and pop.status is Status.MET and record.is_complete
            and cv.verdict in {CardiovascularVerdict.CLEAR, CardiovascularVerdict.CAUTION}
            and calcium.status is not Status.MET and not course.complete)


# What a missing resource type means to a clinician (the card's "Data not available").
GAP_WORDS = {"Patient": "Patient demographics", "Condition": "Problems and diagnoses",
             "Observation": "Results (laboratory, DXA, FRAX)",
             "MedicationAdministration": "Medication administrations",
             "MedicationStatement": "Medication statements",
             "MedicationRequest": "Prescriptions", "Medication": "Medications"}


def gap_sentences(record: PatientRecord) -> list[str]:
    """'Medication administrations could not be read: not supported by the FHIR server'."""
    return [f"{GAP_WORDS.get(gap.resource_type, gap.resource_type)} could not be read: "
            f"{gap.reason}" for gap in record.data_gaps]


UNREAD_SHOWN = 5


def unread_conditions(record: PatientRecord, knowledge: Knowledge) -> list[str]:
    """The Conditions no rule could read, by name: those the request path left out
    (`record.unread_conditions`) and, in a record gathered without that filter, those coded only
    as text or in systems the knowledge does not read."""
    return sorted([*record.unread_conditions,
                   *(condition_label(c.codings, c.text) for c in record.conditions
                     if not knowledge.reads_condition_codes(c.codings))])


def unread_sentences(unread: list[str]) -> list[str]:
    """'Problems and diagnoses could not be read: 2 coded only as text or ... (Cataract; ...)'."""
    if not unread:
        return []
    names = "; ".join(unread[:UNREAD_SHOWN])
    if len(unread) > UNREAD_SHOWN:
        names += f"; and {len(unread) - UNREAD_SHOWN} more"
    return [f"{GAP_WORDS['Condition']} could not be read: {len(unread)} coded only as text or "
            f"in a code system osteocds does not read ({names}): check them for a myocardial "
            "infarction, stroke or hypocalcemia"]


def _disabled(knowledge: Knowledge) -> tuple[CriterionResult, ...]:
    return tuple(CriterionResult(rule.id, rule.label, Status.UNKNOWN, citations=rule.citations,
                                 note=rule.note)
                 for rule in knowledge.rules.values() if not rule.enabled)
