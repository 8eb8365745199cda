"""Denosumab state machine: 6 months + 28/29 days, ~24 months, follow-on, rebound, switch."""

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta

from service.evaluation import assess, therapy
from service.evaluation.model import DenosumabState as S
from service.record import parse
from tests.evaluation.builders import AS_OF, ICD, ago, calcium, condition, draft, med, record
from tests.record import helpers as h


def last_dose_at(months: int, days: int = 0):
    return med("993452", AS_OF - relativedelta(months=months, days=days))


@pytest.mark.parametrize(
    ("items", "state"),
    [
        ([], S.NONE),
        ([last_dose_at(5)], S.CURRENT),
        # computed forward from the dose: 2025-11-18 + 6 months + 28 days = 2026-06-15 (as_of)
        ([med("993452", date(2025, 11, 18))], S.CURRENT),  # exactly + 28 days: not overdue
        ([med("993452", date(2025, 11, 17))], S.OVERDUE),  # + 29 days: overdue
        ([last_dose_at(24)], S.OVERDUE),  # long-ago limit inclusive
        ([last_dose_at(24, 1)], S.STOPPED_LONG_AGO),
        ([last_dose_at(8), med("705824", ago(months=1))], S.FOLLOWED_ON),
        ([last_dose_at(8), draft("993452")], S.FOLLOWED_ON),
        ([last_dose_at(8), draft("705824")], S.FOLLOWED_ON),
        ([last_dose_at(8), draft("1435115")], S.OVERDUE),  # teriparatide is no follow-on
        ([med("1046398", ago(months=8))], S.NONE),  # Xgeva 120 mg never counts
        ([med("2715520", ago(months=8))], S.OVERDUE),  # Jubbonti biosimilar counts
        ([med("993452", ago(months=8), "MedicationRequest", "active")], S.OVERDUE),
    ],
)
def test_states(knowledge, items, state):
    assert assess(record(*items), AS_OF, knowledge).denosumab.state is state


def test_due_dates_and_ctx(knowledge):
    last = ago(months=7, days=5)
    zol = ago(months=1)
    dmab = assess(record(med("993452", last), med("705824", zol)), AS_OF, knowledge).denosumab
    assert dmab.next_dose_due == last + relativedelta(months=6)
    assert dmab.overdue_after == last + relativedelta(months=6, days=28)
    assert dmab.ctx_check_dates == (zol + relativedelta(months=3), zol + relativedelta(months=6))


def test_last_dose_source_is_worded(knowledge):
    rec = record(med("993452", ago(months=8), "MedicationRequest", "active"))
    assert "ordered; administration not recorded" in \
        assess(rec, AS_OF, knowledge).denosumab.last_dose.description


@pytest.mark.parametrize(
    ("fracture_day", "follow_on", "rebound"),
    [
        (ago(months=2), None, True),
        (ago(months=20), None, False),  # before the due date
        (ago(months=2), ago(months=3), False),  # follow-on before the fracture
    ],
)
def test_rebound_fracture(knowledge, fracture_day, follow_on, rebound):
    items = [med("993452", ago(months=22)), condition(ICD, "S22.000A", fracture_day)]
    if follow_on:
        items.append(med("705824", follow_on))
    dmab = assess(record(*items), AS_OF, knowledge).denosumab
    assert bool(dmab.rebound_fractures) is rebound


@pytest.mark.parametrize(
    ("months", "order", "switch"),
    [
        (3, "1435115", True),  # teriparatide while current
        (12, "1490065", True),  # raloxifene within the recent window
        (19, "1435115", False),  # beyond the 18-month window [U]
        (3, "705824", False),  # zoledronate is not a switch
    ],
)
def test_switch_orders(knowledge, months, order, switch):
    rec = record(last_dose_at(months), draft(order))
    assert bool(assess(rec, AS_OF, knowledge).denosumab.switch_orders) is switch


def test_romosozumab_after_rebound_is_judged_per_sarli(knowledge):
    items = [condition(ICD, "M80.08XA", ago(months=2)), med("993452", ago(months=14)),
             calcium(), draft("2123184")]
    result = assess(record(*items), AS_OF, knowledge)
    assert result.denosumab.switch_orders == ()
    assert result.denosumab.rebound_romosozumab_orders
    assert result.rebound_romosozumab_allowed
    assert "sarli-2025" in result.denosumab.citations
    with_mi = record(*items, condition(ICD, "I21.4", ago(months=6)))
    assert not assess(with_mi, AS_OF, knowledge).rebound_romosozumab_allowed


@pytest.mark.parametrize(("status", "period", "extra", "unrecorded"), [
    ("active", {"start": "2025-06-01"}, {}, True),
    ("on-hold", {"start": "2025-06-01"}, {}, True),
    ("completed", {"start": "2025-06-01"}, {}, False),  # use over: start is all it says
    ("stopped", {"start": "2025-06-01"}, {}, False),
    ("active", {"start": "2025-06-01", "end": "2026-01-01"}, {}, False),
    ("active", {"start": "2025-06-01"}, {"effectiveDateTime": "2026-01-01"}, False),
])
def test_a_statement_of_ongoing_use_does_not_record_its_last_dose(
    status: str, period: dict[str, str], extra: dict[str, str], unrecorded: bool,
) -> None:
    """An active statement 'since 2025-06-01' says when use began, not the last injection."""
    event = parse.parse_medication(h.statement("s", status=status, effectivePeriod=period,
                                               **extra), lambda *_: None)
    assert event is not None
    assert therapy.last_dose_unrecorded(event) is unrecorded
