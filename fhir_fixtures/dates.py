"""Dates as offsets from `as_of`, rendered with calendar arithmetic (dateutil relativedelta).

A template never holds an absolute date. A *date node* is one of:

- ``{"years": -1, "months": -4, "days": -5}``: one relativedelta step; dateutil applies years and
  months first, then days, so ``{"months": -4, "days": -5}`` from 2026-06-15 is 2026-02-10.
- ``{"offset": <step or list of steps>, "precision": "day", "time": "09:30:00+01:00"}``: the full
  form. A list of steps is applied in order, which keeps boundaries exact: the denosumab boundary
  ``[{"days": -28}, {"months": -6}]`` is the date L with L + 6 months + 28 days == as_of.
  ``precision`` is ``day`` (default), ``month`` ("2024-05") or ``year`` ("2024"), for partial FHIR
  dates; ``time`` turns a day-precision date into a FHIR dateTime with that local time and zone
  (the local calendar date is the date the rules must use).
- ``{"inverse": {"months": 6, "days": 28}, "shift_days": -1}``: the earliest date L with
  L + 6 months + 28 days >= as_of (a forward rule's boundary, exact on every as_of even where month
  lengths make "as_of - 28 days - 6 months" miss it), then shifted by ``shift_days`` (default 0).
  With shift 0 the forward rule is not yet exceeded on as_of; with -1 it is exceeded by one day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

STEP_KEYS = frozenset({"years", "months", "weeks", "days"})
_INVERSE_SEARCH_DAYS = 7
PRECISIONS = ("day", "month", "year")


class DateTemplateError(ValueError):
    """A date node in a template is malformed."""


def _step(spec: Mapping[str, Any]) -> relativedelta:
    unknown = set(spec) - STEP_KEYS
    if unknown or not spec:
        raise DateTemplateError(f"bad offset step {dict(spec)!r}: keys must be {sorted(STEP_KEYS)}")
    if not all(isinstance(value, int) for value in spec.values()):
        raise DateTemplateError(f"offset step {dict(spec)!r} must hold integers")
    return relativedelta(**spec)


def _steps(offset: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[relativedelta]:
    if isinstance(offset, Mapping):
        return [_step(offset)]
    return [_step(item) for item in offset]


def is_date_node(node: Any) -> bool:
    """True when `node` is a template date node (and not some other JSON object)."""
    if not isinstance(node, Mapping) or not node:
        return False
    return "offset" in node or "inverse" in node or set(node) <= STEP_KEYS


def _inverse(forward: Mapping[str, Any], as_of: date) -> date:
    """The earliest L with L + forward >= as_of (forward is a positive relativedelta step)."""
    step = _step(forward)
    guess = as_of - step
    candidate = guess - relativedelta(days=_INVERSE_SEARCH_DAYS)
    while candidate + step < as_of:
        candidate += relativedelta(days=1)
    return candidate


def resolve(node: Mapping[str, Any], as_of: date) -> date:
    """The calendar date a date node stands for on `as_of` (ignores precision and time)."""
    if "inverse" in node:
        return _inverse(node["inverse"], as_of) + relativedelta(days=node.get("shift_days", 0))
    offset = node.get("offset", node)
    day = as_of
    for step in _steps(offset):
        day = day + step
    return day


def render(node: Mapping[str, Any], as_of: date) -> str:
    """The FHIR date/dateTime string of a date node on `as_of`."""
    day = resolve(node, as_of)
    full_form = "offset" in node or "inverse" in node
    precision = node.get("precision", "day") if full_form else "day"
    if precision not in PRECISIONS:
        raise DateTemplateError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    time = node.get("time") if full_form else None
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if time:
        return f"{day.isoformat()}T{time}"
    return day.isoformat()


def age_on(birth: date, as_of: date) -> int:
    """Completed years of age on `as_of` (the birthday itself counts as the new age)."""
    return relativedelta(as_of, birth).years
