"""Romosozumab course: dose-days, 12 = complete, mid-course next due, antiresorptive after."""

import pytest

from service.evaluation import assess
from service.evaluation.dates import add_months
from service.evaluation.model import RomosozumabDecision as D
from tests.evaluation.builders import AS_OF, ICD, ago, calcium, condition, draft, med, record


def monthly(n, last_months_ago=0, syringes=2):
    doses = []
    for i in range(n):
        day = ago(months=last_months_ago + n - 1 - i)
        doses += [med("2123184", day) for _ in range(syringes)]
    return doses


@pytest.mark.parametrize(
    ("doses", "given", "complete"),
    [
        (monthly(12), 12, True),
        (monthly(11), 11, False),
        (monthly(6, syringes=1), 6, False),
        # second syringe 7 days later: same dose; 8 days later: a new dose
        ([med("2123184", ago(days=20)), med("2123184", ago(days=13))], 1, False),
        ([med("2123184", ago(days=20)), med("2123184", ago(days=12))], 2, False),
    ],
)
def test_dose_days(knowledge, doses, given, complete):
    course = assess(record(*doses), AS_OF, knowledge).romosozumab_course
    assert (course.doses_given, course.complete) == (given, complete)


def test_mid_course_next_dose_and_no_new_proposal(knowledge):
    rec = record(condition(ICD, "M80.08XA", ago(months=8)), calcium(), *monthly(6, 0))
    result = assess(rec, AS_OF, knowledge)
    assert result.romosozumab_decision is D.ALREADY_ON_COURSE
    assert result.romosozumab_course.next_dose_due == add_months(AS_OF, 1)


def test_course_complete_then_antiresorptive(knowledge):
    rec = record(condition(ICD, "M80.08XA", ago(months=13)), calcium(), *monthly(12, 1))
    result = assess(rec, AS_OF, knowledge)
    assert result.romosozumab_decision is D.COURSE_COMPLETE
    assert not result.romosozumab_course.antiresorptive_since
    rec2 = record(*rec.conditions, *rec.observations, *rec.medications,
                  med("705824", ago(days=5)))
    assert assess(rec2, AS_OF, knowledge).romosozumab_course.antiresorptive_since
    rec3 = record(*rec.conditions, *rec.observations, *rec.medications, draft("904431"))
    assert assess(rec3, AS_OF, knowledge).romosozumab_course.antiresorptive_ordered


def test_mid_course_myocardial_infarction_stops_the_course(knowledge):
    """Boxed warning: "If a patient experiences a myocardial infarction or stroke during therapy,
    EVENITY should be discontinued" (research 2.3, persona P20's variant)."""
    on_course = (condition(ICD, "M80.08XA", ago(months=8)), calcium(), *monthly(6, 0))
    assert "dose 7 of 12" in assess(record(*on_course), AS_OF, knowledge).decision_reasons[0]
    mi = condition(ICD, "I21.4", ago(months=2))
    result = assess(record(*on_course, mi), AS_OF, knowledge)
    assert result.romosozumab_decision is D.ALREADY_ON_COURSE
    assert result.decision_reasons == ("myocardial infarction or stroke (cardiovascular "
                                       "contraindication): discontinue the course",)


TERIPARATIDE_PEN = "1435115"


@pytest.mark.parametrize(("source", "status", "period_end", "blocks"), [
    ("MedicationStatement", "active", None, True),  # taking it now
    ("MedicationRequest", "active", None, True),
    ("MedicationStatement", "completed", ago(months=3), False),  # stopped three months ago
])
def test_an_anabolic_agent_in_use_blocks_the_proposal(knowledge, source, status, period_end,
                                                      blocks):
    """Research 5, rule order 3: "already on active anabolic" blocks the proposal."""
    proposable = (condition(ICD, "M80.08XA", ago(months=2)), calcium())
    assert assess(record(*proposable), AS_OF, knowledge).romosozumab_decision is D.PROPOSE
    teriparatide = med(TERIPARATIDE_PEN, ago(months=4), source=source, status=status,
                       period_start=ago(months=4), period_end=period_end)
    result = assess(record(*proposable, teriparatide), AS_OF, knowledge)
    if blocks:
        assert result.romosozumab_decision is D.ON_OTHER_ANABOLIC
        assert result.decision_reasons[0].startswith("already on an anabolic agent: teriparatide")
    else:
        assert result.romosozumab_decision is D.PROPOSE


def test_a_recent_anabolic_administration_blocks_and_an_old_one_does_not(knowledge):
    proposable = (condition(ICD, "M80.08XA", ago(months=2)), calcium())
    recent = med(TERIPARATIDE_PEN, ago(days=10))  # coverage: one month from the dose
    old = med(TERIPARATIDE_PEN, ago(months=2))
    assert assess(record(*proposable, recent), AS_OF,
                  knowledge).romosozumab_decision is D.ON_OTHER_ANABOLIC
    assert assess(record(*proposable, old), AS_OF, knowledge).romosozumab_decision is D.PROPOSE
