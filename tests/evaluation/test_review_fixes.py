"""Review findings in the evaluation: population reasons, age of the deceased, and values shown as
a clinician reads them (precise values still decide)."""

from __future__ import annotations

from datetime import date

import pytest

from service.evaluation import assess
from service.evaluation.labs import display_unit, plain_number
from service.evaluation.model import PopulationReason, Status
from service.record.model import DataGap, DateRange, Patient, Quantity
from tests.evaluation.builders import (
    AS_OF,
    SCT,
    ago,
    calcium,
    condition,
    med,
    obs,
    osteoporosis,
    patient,
    record,
    t_score,
)


def criterion(assessment, rule_id: str):
    return next(c for c in assessment.risk_criteria if c.id == rule_id)


# --- population: the patient's own reason ---------------------------------------------------
@pytest.mark.parametrize(("pat", "items", "reason"), [
    (patient(gender="male"), (osteoporosis(),), PopulationReason.MALE),
    (patient(age=41), (osteoporosis(),), PopulationReason.PREMENOPAUSAL),
    (patient(age=73), (t_score(0.0),), PopulationReason.NO_OSTEOPOROSIS),
    (patient(gender="unknown"), (osteoporosis(),), PopulationReason.SEX_UNKNOWN),
    (Patient("p1", "female", DateRange.unknown(), False), (osteoporosis(),),
     PopulationReason.MENOPAUSE_UNKNOWN),
])
def test_population_carries_the_reason_it_is_not_met(knowledge, pat, items, reason):
    population = assess(record(*items, pat=pat), AS_OF, knowledge).population
    assert population.status is not Status.MET
    assert population.reason == reason


def test_population_met_has_no_reason(knowledge):
    assert assess(record(osteoporosis()), AS_OF, knowledge).population.reason is None


# --- age of a deceased patient ----------------------------------------------------------------
def deceased(born: date, died: date | None) -> Patient:
    return Patient("p1", "female", DateRange.exact(born), True, died)


def test_deceased_patients_age_stops_at_death(knowledge):
    """Synthea Evelyn: died at 57, seen 22 years later; 'older age' must not be met."""
    pat = deceased(date(1941, 5, 1), date(1998, 8, 4))
    result = assess(record(osteoporosis(), pat=pat), AS_OF, knowledge)
    older = criterion(result, "very-high-risk.older-age")
    assert older.status is Status.NOT_MET
    assert older.evidence[0].description == "Age at death"
    assert older.evidence[0].value == "57 years"


def test_deceased_at_76_is_older_age_at_death(knowledge):
    pat = deceased(date(1940, 1, 1), date(2016, 6, 1))
    older = criterion(assess(record(pat=pat), AS_OF, knowledge), "very-high-risk.older-age")
    assert older.status is Status.MET
    assert older.evidence[0].value == "76 years"


def test_deceased_on_an_unknown_date_has_no_age_criterion(knowledge):
    pat = deceased(date(1930, 1, 1), None)
    older = criterion(assess(record(pat=pat), AS_OF, knowledge), "very-high-risk.older-age")
    assert older.status is Status.UNKNOWN
    assert "date of death" in (older.note or "")


def test_living_patient_age_is_counted_on_as_of(knowledge):
    older = criterion(assess(record(pat=patient(age=80)), AS_OF, knowledge),
                      "very-high-risk.older-age")
    assert older.status is Status.MET
    assert (older.evidence[0].description, older.evidence[0].value) == ("Age", "80 years")


# --- T-scores: one decimal, no UCUM annotation; precise value decides --------------------------
@pytest.mark.parametrize(("value", "shown"), [
    (-3.31383, "-3.3"),
    (-3.73865, "-3.7"),
    (-3.2, "-3.2"),
    (-3.04, "-3.04"),  # one decimal would read "-3.0" under "T-score below -3.0"
])
def test_t_score_is_shown_as_dxa_prints_it(knowledge, value, shown):
    result = assess(record(osteoporosis(), t_score(value)), AS_OF, knowledge)
    low_t = criterion(result, "very-high-risk.very-low-t-score")
    assert low_t.status is Status.MET
    assert low_t.evidence[0].value == shown
    assert "{" not in low_t.evidence[0].value


def test_t_score_rounding_does_not_decide(knowledge):
    """-2.96 rounds to -3.0 on display but is not below -3.0."""
    low_t = criterion(assess(record(osteoporosis(), t_score(-2.96)), AS_OF, knowledge),
                      "very-high-risk.very-low-t-score")
    assert low_t.status is Status.NOT_MET
    assert low_t.evidence[0].value == "-2.96"


def test_population_t_score_evidence_is_rounded(knowledge):
    population = assess(record(t_score(-2.71828)), AS_OF, knowledge).population
    assert population.status is Status.MET
    assert population.evidence[-1].value == "-2.7"


# --- other values -------------------------------------------------------------------------------
@pytest.mark.parametrize(("quantity", "shown"), [
    (Quantity(1.0, "{T-score}", code="{T-score}"), ""),
    (Quantity(1.0, None, code="mL/min/{1.73_m2}"), "mL/min/1.73 m2"),
    (Quantity(1.0, "mL/min/1.73m2", code="mL/min/{1.73_m2}"), "mL/min/1.73m2"),
    (Quantity(1.0, "mg/dL"), "mg/dL"),
])
def test_units_never_show_ucum_annotation_braces(quantity, shown):
    assert display_unit(quantity) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (25.0, "25"), (9.69, "9.69"), (58.123456, "58.12"), (0.3456, "0.346"), (-0.0001, "0"),
    (1234567.0, "1234567"),
])
def test_numbers_are_shown_without_float_noise(value, shown):
    assert plain_number(value) == shown


def test_egfr_coded_only_in_ucum_reads_plainly(knowledge):
    egfr = obs("62238-1", 25.123456, "mL/min/{1.73_m2}", ago(months=1))
    gate = assess(record(osteoporosis(), calcium(), egfr), AS_OF, knowledge).safety_gates[
        "zoledronic-acid"]
    assert not gate.allowed
    assert gate.reasons[0].value == "25.12 mL/min/1.73 m2"


def test_albumin_adjusted_calcium_is_rounded_with_its_unit_once(knowledge):
    albumin = obs("1751-7", 3.1, "g/dL", ago(months=1))
    hypo = assess(record(calcium(9.0), albumin), AS_OF, knowledge).hypocalcemia
    evidence = hypo.evidence[0]
    assert evidence.value == "9 mg/dL"
    assert evidence.note is not None
    assert evidence.note.startswith("albumin-adjusted 9.7 mg/dL; lower limit ")
    assert evidence.note.count("albumin-adjusted") == 1


def test_therapy_evidence_names_what_the_record_says_and_how_it_was_recorded(knowledge):
    """Synthea: RxNorm 904419 'Alendronic acid 10 MG Oral Tablet', not the knowledge's weekly
    70 mg regimen; 'prescribed', not the FHIR resource type."""
    fracture = condition(SCT, "5913000", ago(months=2))
    alendronate = med("904419", ago(years=2), source="MedicationRequest", status="active",
                      text="Alendronic acid 10 MG Oral Tablet")
    result = assess(record(osteoporosis(), fracture, alendronate), AS_OF, knowledge)
    on_therapy = criterion(result, "very-high-risk.fracture-on-therapy")
    assert on_therapy.status is Status.MET
    assert on_therapy.evidence[1].description == "Alendronic acid 10 MG Oral Tablet (prescribed)"


def test_romosozumab_dose_evidence_says_administered(knowledge):
    dose = med("2123184", ago(months=1))
    course = assess(record(osteoporosis(), dose), AS_OF, knowledge).romosozumab_course
    assert course.doses[0].description == "Romosozumab dose 1 (administered)"



def test_data_gaps_are_said_in_clinician_words(knowledge):
    gaps = (DataGap("MedicationAdministration", "not supported by the FHIR server", partial=False),
            DataGap("Condition", "not supported by the FHIR server", partial=False))
    sentences = assess(record(osteoporosis(), gaps=gaps), AS_OF, knowledge).data_gaps
    assert sentences == (
        "Medication administrations could not be read: not supported by the FHIR server",
        "Problems and diagnoses could not be read: not supported by the FHIR server")


def test_frax_as_a_fraction_is_shown_without_float_noise(knowledge):
    frax = obs("90265-0", 0.301234567, "1", ago(months=2))
    assessment = assess(record(osteoporosis(), frax), AS_OF, knowledge)
    result = criterion(assessment, "very-high-risk.frax")
    assert result.status is Status.MET
    assert result.evidence[0].value == "30.12 %"



# --- osteoporosis documented, whatever the population -------------------------------------
@pytest.mark.parametrize(("pat", "items", "documented"), [
    (patient(age=80), (t_score(-0.5),), False),  # older age alone: no osteoporosis
    (patient(age=80, gender="male"), (osteoporosis(),), True),
    (patient(age=73), (t_score(-2.5),), True),  # T-score <= -2.5
])
def test_osteoporosis_is_documented_independently_of_sex(knowledge, pat, items, documented):
    result = assess(record(*items, pat=pat), AS_OF, knowledge)
    assert (result.osteoporosis is not None) is documented
