"""Facts the rules derive from the record on the way to an `Assessment`: a matched observation
(`Result`), a medication use with its coverage period (`DrugUse`), a de-duplicated fracture
(`FractureEvent`) and the bone density summary (`BoneDensity`).

Frozen `msgspec.Struct`s, kept in this interpreted module: mypyc (the compiled build, setup.py)
drops a Struct's class options such as `frozen=True`, so no compiled module defines one.
"""

from __future__ import annotations

from datetime import date

from msgspec import Struct

from service.evaluation.dates import describe
from service.evaluation.model import Evidence
from service.knowledge.matches import DrugMatch
from service.record.model import Condition, DateRange, MedicationEvent, Observation


class Result(Struct, frozen=True):
    observation: Observation
    kind: str
    site: str | None
    day: date | None


class DrugUse(Struct, frozen=True):
    event: MedicationEvent
    match: DrugMatch
    dose_day: date | None  # most recent possible dose day
    start: date | None
    end: date | None  # coverage end (as_of for ongoing therapy)


UNCONFIRMED_VERIFICATION = frozenset({"unconfirmed", "provisional", "differential"})


def unconfirmed_note(conditions: tuple[Condition, ...]) -> str | None:
    """"diagnosis provisional: verify" when no record of the condition is confirmed (or says
    nothing of its verification) but one is unconfirmed, provisional or differential."""
    statuses = {c.verification_status for c in conditions}
    if not statuses or not statuses <= UNCONFIRMED_VERIFICATION:
        return None
    return f"diagnosis {' or '.join(sorted(s for s in statuses if s))}: verify"


class FractureEvent(Struct, frozen=True):
    site: str  # fracture site id of the most specific record
    label: str
    group: str
    vertebral: bool
    onset: DateRange  # of the initial record; follow-up-only events: "on or before"
    records: tuple[Condition, ...]
    fragility: bool  # counts as a fragility fracture (AACE site table + bone mass)
    follow_up_only: bool = False

    def evidence(self) -> Evidence:
        first = self.records[0]
        codes = ", ".join(sorted({c.code for r in self.records for c in r.codings}))
        notes = ["only follow-up encounter codes: fracture date unknown"
                 if self.follow_up_only else None, unconfirmed_note(self.records)]
        note = "; ".join(n for n in notes if n) or None
        return Evidence(description=f"{self.label} ({codes})", reference=first.reference,
                        when=self.onset, value=describe(self.onset), note=note)


class BoneDensity(Struct, frozen=True):
    latest_study_lowest: Result | None  # lowest valid site of the most recent DXA study
    lowest_ever: Result | None  # for the diagnosis (persists after a better DXA)
