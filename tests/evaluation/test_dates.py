"""The calendar helpers agree with dateutil, which the clinical rules were written against."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from service.evaluation.dates import add_months, age_bounds, may_be_on_or_after, wholly_on_or_after
from service.record.model import DateRange, DateSource

DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(DAYS, st.integers(min_value=-600, max_value=600))
def test_add_months_is_relativedelta_months(day: date, months: int) -> None:
    assert add_months(day, months) == day + relativedelta(months=months)


@given(DAYS, DAYS)
def test_age_is_relativedelta_years(born: date, as_of: date) -> None:
    years = relativedelta(as_of, born).years
    assert age_bounds(DateRange.exact(born), as_of) == (years, years)


def test_leap_day_birthday_counts_on_28_february() -> None:
    born = DateRange.exact(date(2000, 2, 29))
    assert age_bounds(born, date(2001, 2, 28)) == (1, 1)
    assert age_bounds(born, date(2001, 2, 27)) == (0, 0)


def test_interval_against_a_window_start() -> None:
    start = date(2025, 6, 15)
    inside = DateRange(date(2025, 6, 15), date(2025, 7, 1), DateSource.PERIOD)
    straddling = DateRange(date(2025, 6, 1), date(2025, 6, 15), DateSource.PERIOD)
    before = DateRange(date(2025, 1, 1), date(2025, 6, 14), DateSource.PERIOD)
    open_ended = DateRange(date(2020, 1, 1), None, DateSource.PERIOD)
    cases = [(inside, True, True), (straddling, False, True), (before, False, False),
             (open_ended, False, True), (DateRange.unknown(), False, True)]
    for when, wholly, maybe in cases:
        assert wholly_on_or_after(when, start) is wholly, when
        assert may_be_on_or_after(when, start) is maybe, when


@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=1, max_value=12))
def test_days_in_month_is_the_calendars(year: int, month: int) -> None:
    from calendar import monthrange

    from service.evaluation.dates import _days_in_month

    assert _days_in_month(year, month) == monthrange(year, month)[1]
