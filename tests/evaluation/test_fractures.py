"""Fractures as de-duplicated events; AACE site table; recent (12 months) and multiple."""

import pytest

from service.evaluation import assess
from service.evaluation.model import Status
from service.record.model import DateRange, DateSource
from tests.evaluation.builders import AS_OF, ICD, SCT, ago, condition, record


def criterion(assessment, rule_id):
    return next(c for c in assessment.risk_criteria if c.id == rule_id)


@pytest.mark.parametrize(
    ("conditions", "multiple"),
    [
        # problem list + encounter diagnosis + follow-up (D) of one hip fracture = one event
        ([(ICD, "S72.001A", ago(months=3)), (SCT, "5913000", ago(months=3, days=-2)),
          (ICD, "S72.001D", ago(months=1))], Status.NOT_MET),
        # two vertebral regions on the same day = two events
        ([(ICD, "S22.000A", ago(months=2)), (ICD, "M48.56XA", ago(months=2))], Status.MET),
        # same region (lumbar) coded twice = one event
        ([(ICD, "S32.000A", ago(months=2)), (ICD, "M48.56XA", ago(months=2))], Status.NOT_MET),
        # same site, a year and a half apart = two events
        ([(ICD, "S72.001A", ago(months=20)), (ICD, "S72.009A", ago(months=2))], Status.MET),
        # unspecified vertebral (M80.08) merges with a specific region in the window
        ([(ICD, "M80.08XA", ago(months=2)), (ICD, "S22.000A", ago(months=2, days=10))],
         Status.NOT_MET),
        # distal forearm without low bone mass does not count; with hip = one fragility event
        ([(ICD, "S52.501A", ago(months=2)), (ICD, "S72.001A", ago(months=5))], Status.NOT_MET),
    ],
)
def test_events_are_deduplicated(knowledge, conditions, multiple):
    rec = record(*(condition(s, c, d) for s, c, d in conditions))
    result = assess(rec, AS_OF, knowledge)
    assert criterion(result, "very-high-risk.multiple-fractures").status is multiple


def test_forearm_counts_with_osteoporosis_diagnosis(knowledge):
    rec = record(condition(SCT, "64859006"), condition(ICD, "S52.501A", ago(months=2)),
                 condition(ICD, "S72.001A", ago(months=5)))
    result = assess(rec, AS_OF, knowledge)
    assert criterion(result, "very-high-risk.multiple-fractures").status is Status.MET


@pytest.mark.parametrize(
    ("onset", "recent"),
    [
        (DateRange.exact(ago(months=12)), Status.MET),  # exactly 12 months: inclusive
        (DateRange.exact(ago(months=12, days=1)), Status.NOT_MET),
        (DateRange.exact(ago(months=11)), Status.MET),
        # whole interval must be inside the window
        (DateRange(ago(months=13), ago(months=11), DateSource.DATE_TIME), Status.NOT_MET),
        (DateRange(None, ago(months=1), DateSource.RECORDED), Status.NOT_MET),
        (DateRange.unknown(), Status.NOT_MET),
    ],
)
def test_recent_fracture_window(knowledge, onset, recent):
    rec = record(condition(ICD, "S72.001A", onset))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.recent-fracture").status is recent


def test_follow_up_only_code_is_not_recent(knowledge):
    rec = record(condition(ICD, "S72.001D", ago(months=1)))
    result = criterion(assess(rec, AS_OF, knowledge), "very-high-risk.recent-fracture")
    assert result.status is Status.NOT_MET
