"""Fractures as events, not codes.

Records of one fracture (problem list + encounter diagnoses, follow-up 7th characters D/G/K/P/S)
are merged by site group and onset window (policy `fracture_dedup_window_days`,
`fracture_follow_up_window_days`). Which events are fragility fractures follows the AACE 2020 site
table in `fractures.json`: hip/vertebral and osteoporosis-coded fractures regardless of bone mass;
distal forearm, proximal humerus and pelvis only with low bone mass.
"""

from __future__ import annotations

from datetime import date

from service.evaluation.dates import reference_day
from service.evaluation.facts import FractureEvent
from service.knowledge import Knowledge
from service.knowledge.knowledge import FractureMatch
from service.record.model import Condition, DateRange, PatientRecord


class _Draft:
    """One fracture event being assembled. A plain class, which the compiled build makes
    native (a dataclass's `__init__` stays interpreted there)."""

    def __init__(self, match: FractureMatch,
                 records: list[tuple[Condition, FractureMatch]]) -> None:
        self.match = match
        self.records = records

    @property
    def initial(self) -> list[tuple[Condition, FractureMatch]]:
        return [(c, m) for c, m in self.records if not m.follow_up]


def fracture_events(
    record: PatientRecord, knowledge: Knowledge, low_bone_mass: bool
) -> tuple[FractureEvent, ...]:
    """De-duplicated fracture events, oldest first; `fragility` per the AACE site table."""
    matched = [(c, m) for c in record.conditions
               if (m := knowledge.match_fracture(c.codings)) is not None]
    matched.sort(key=lambda cm: (reference_day(cm[0].onset) is None,
                                 reference_day(cm[0].onset) or date.min, cm[1].follow_up))
    drafts: list[_Draft] = []
    dedup = int(knowledge.value("fracture_dedup_window_days"))
    follow = int(knowledge.value("fracture_follow_up_window_days"))
    for condition, match in matched:
        target = next((d for d in drafts if _same_event(d, condition, match, dedup, follow)), None)
        if target is None:
            drafts.append(_Draft(match, [(condition, match)]))
        else:
            target.records.append((condition, match))
            if target.match.site.unspecified_site and not match.site.unspecified_site:
                target.match = match
    return tuple(_freeze(d, low_bone_mass) for d in drafts)


def _same_event(draft: _Draft, condition: Condition, match: FractureMatch, dedup: int,
                follow: int) -> bool:
    site, other = draft.match.site, match.site
    if site.group != other.group:
        return False
    if site.id != other.id and not (site.unspecified_site or other.unspecified_site):
        return False
    day = reference_day(condition.onset)
    for existing, _ in draft.records:
        known = reference_day(existing.onset)
        if day is None or known is None:
            return True  # undated: never counted as a second fracture (safe direction)
        gap = (day - known).days
        if abs(gap) <= dedup or (match.follow_up and 0 <= gap <= follow):
            return True
    return False


def _freeze(draft: _Draft, low_bone_mass: bool) -> FractureEvent:
    initial = draft.initial
    conditions = tuple(c for c, _ in draft.records)
    if initial:
        onset = initial[0][0].onset
    else:
        latest = max((d for c in conditions if (d := reference_day(c.onset))), default=None)
        onset = (DateRange.unknown() if latest is None
                 else DateRange(None, latest, conditions[0].onset.source))
    coded = any(m.osteoporotic_coded for _, m in draft.records)
    fragility = coded or draft.match.site.bone_mass_rule == "any" or low_bone_mass
    return FractureEvent(site=draft.match.site.id, label=draft.match.site.label,
                         group=draft.match.site.group, vertebral=draft.match.site.vertebral,
                         onset=onset, records=conditions, fragility=fragility,
                         follow_up_only=not initial)
