"""Pick observations of a kind from the record: latest, within a window, values as numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date

from service.evaluation.dates import months_before, reference_day
from service.evaluation.facts import Result
from service.knowledge import Knowledge
from service.knowledge.matches import CodeMatch
from service.record.model import Condition, Observation, PatientRecord, Quantity

_ANNOTATION = re.compile(r"\{([^{}]*)\}")

USABLE_STATUSES = frozenset({"final", "amended", "corrected", "preliminary", "registered"})


@dataclass(frozen=True, slots=True)
class _RecordIndex:
    """Every usable observation of one record matched once, grouped by kind, newest first; and
    the value sets of each of its conditions, looked up once."""

    record: PatientRecord
    knowledge: Knowledge
    by_kind: Mapping[str, tuple[Result, ...]]
    condition_sets: tuple[tuple[Condition, Mapping[str, CodeMatch]], ...]


_INDEX: ContextVar[_RecordIndex | None] = ContextVar("record_index", default=None)


@contextmanager
def indexed_observations(record: PatientRecord, knowledge: Knowledge) -> Iterator[None]:
    """Within the block, `results(record, knowledge, kind)` and `condition_value_sets(record,
    knowledge)` read a per-record index built once (one code lookup per observation and per
    condition instead of one per observation and kind, per condition and value set asked)."""
    by_kind: dict[str, list[Result]] = {}
    for result in _matching(record, knowledge, None):
        by_kind.setdefault(result.kind, []).append(result)
    index = _RecordIndex(
        record, knowledge, {kind: tuple(_newest_first(found)) for kind, found in by_kind.items()},
        _condition_sets(record, knowledge))
    token = _INDEX.set(index)
    try:
        yield
    finally:
        _INDEX.reset(token)


def results(record: PatientRecord, knowledge: Knowledge, kind: str) -> list[Result]:
    """Observations of `kind`, newest first (undated last)."""
    index = _INDEX.get()
    if index is not None and index.record is record and index.knowledge is knowledge:
        return list(index.by_kind.get(kind, ()))
    return _newest_first(list(_matching(record, knowledge, kind)))


def condition_value_sets(record: PatientRecord, knowledge: Knowledge
                         ) -> tuple[tuple[Condition, Mapping[str, CodeMatch]], ...]:
    """Each condition of the record, in record order, with every value set it is coded in."""
    index = _INDEX.get()
    if index is not None and index.record is record and index.knowledge is knowledge:
        return index.condition_sets
    return _condition_sets(record, knowledge)


def _condition_sets(record: PatientRecord, knowledge: Knowledge
                    ) -> tuple[tuple[Condition, Mapping[str, CodeMatch]], ...]:
    return tuple((condition, knowledge.value_sets_of(condition.codings))
                 for condition in record.conditions)


def _newest_first(found: list[Result]) -> list[Result]:
    found.sort(key=lambda r: (r.day is not None, r.day or date.min), reverse=True)
    return found


def _matching(
    record: PatientRecord, knowledge: Knowledge, kind: str | None
) -> Iterator[Result]:
    """Usable observations matching `kind` (any kind when None), in record order."""
    for obs in record.observations:
        if obs.status and obs.status not in USABLE_STATUSES:
            continue
        match = knowledge.match_observation(obs.codings, obs.text)
        if match is not None and (kind is None or match.kind == kind):
            yield Result(obs, match.kind, match.site, reference_day(obs.effective))


def latest_since(
    record: PatientRecord, knowledge: Knowledge, kind: str, since: date
) -> Result | None:
    """The newest result of `kind` dated on or after `since` that has a numeric value."""
    for result in results(record, knowledge, kind):
        if result.day is not None and result.day >= since and result.observation.value:
            return result
    return None


def latest_within(
    record: PatientRecord, knowledge: Knowledge, kind: str, as_of: date, window: str
) -> Result | None:
    """`latest_since` over the months before `as_of` that the policy threshold `window` names
    (e.g. "lab_window_months")."""
    return latest_since(record, knowledge, kind, months_before(as_of, int(knowledge.value(window))))


def format_quantity(obs: Observation) -> str:
    """An observation's value as a clinician reads it: "9.4 mg/dL", "25 mL/min/1.73 m2"."""
    if obs.value is None:
        return obs.value_text or ""
    return f"{plain_number(obs.value.value)} {display_unit(obs.value)}".strip()


def display_unit(quantity: Quantity) -> str:
    """The unit as sent (else its UCUM code) without UCUM annotation braces: a unit that is only
    an annotation ("{T-score}", "{score}") is no unit; "mL/min/{1.73_m2}" reads
    "mL/min/1.73 m2"."""
    unit = (quantity.unit or quantity.code or "").strip()
    if _ANNOTATION.fullmatch(unit):
        return ""
    return _ANNOTATION.sub(lambda m: m.group(1).replace("_", " ").strip(), unit)


def plain_number(value: float, decimals: int = 2) -> str:
    """A value for display: at most `decimals` decimals (3 below 1), no trailing zeros, never
    "-0" (comparisons use the precise value, never this text)."""
    places = decimals if abs(value) >= 1 else max(decimals, 3)
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_t_score(value: float) -> str:
    """A T-score as DXA reports print it: one decimal, no unit ("-3.3"; never "-0.0")."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text
