"""Pick observations of a kind from the record: latest, within a window, values as numbers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from service.evaluation.dates import reference_day
from service.knowledge import Knowledge
from service.record.model import Observation, PatientRecord

USABLE_STATUSES = frozenset({"final", "amended", "corrected", "preliminary", "registered"})


@dataclass(frozen=True, slots=True)
class Result:
    observation: Observation
    kind: str
    site: str | None
    day: date | None


def results(record: PatientRecord, knowledge: Knowledge, kind: str) -> list[Result]:
    """Observations of `kind`, newest first (undated last)."""
    found = list(_matching(record, knowledge, kind))
    found.sort(key=lambda r: (r.day is not None, r.day or date.min), reverse=True)
    return found


def _matching(record: PatientRecord, knowledge: Knowledge, kind: str) -> Iterator[Result]:
    for obs in record.observations:
        if obs.status and obs.status not in USABLE_STATUSES:
            continue
        match = knowledge.match_observation(obs.codings, obs.text)
        if match is not None and match.kind == kind:
            yield Result(obs, kind, match.site, reference_day(obs.effective))


def latest_since(
    record: PatientRecord, knowledge: Knowledge, kind: str, since: date
) -> Result | None:
    """The newest result of `kind` dated on or after `since` that has a numeric value."""
    for result in results(record, knowledge, kind):
        if result.day is not None and result.day >= since and result.observation.value:
            return result
    return None


def format_quantity(obs: Observation) -> str:
    if obs.value is None:
        return obs.value_text or ""
    unit = obs.value.unit or obs.value.code or ""
    return f"{obs.value.value:g} {unit}".strip()
