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
