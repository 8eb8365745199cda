"""Romosozumab course: dose-days (records within 7 days are one monthly dose), 12 = complete."""

from __future__ import annotations

from datetime import date

from service.evaluation.dates import add_months
from service.evaluation.model import Evidence, RomosozumabCourse
from service.evaluation.therapy import RECORDED_AS, DrugUse
from service.knowledge import Knowledge
from service.record.model import DraftOrder


def romosozumab_course(knowledge: Knowledge, uses: list[DrugUse],
                       draft_orders: tuple[DraftOrder, ...]) -> RomosozumabCourse:
    """Doses given, next dose due when mid-course, and whether an antiresorptive followed."""
    romo = sorted((u for u in uses if u.match.drug.id == "romosozumab" and u.dose_day),
                  key=lambda u: u.dose_day)  # type: ignore[arg-type, return-value]
    same_dose = int(knowledge.value("romosozumab_same_dose_days"))
    dose_days: list[date] = []
    evidence: list[Evidence] = []
    for use in romo:
        day = use.dose_day
        assert day is not None  # noqa: S101 - filtered above
        if dose_days and (day - dose_days[-1]).days <= same_dose:
            continue
        dose_days.append(day)
        evidence.append(Evidence(f"Romosozumab dose {len(dose_days)} "
                                 f"({RECORDED_AS[use.event.source_type]})",
                                 reference=use.event.reference, when=use.event.dose_date))
    if not dose_days:
        return RomosozumabCourse(doses_given=0)
    course_doses = int(knowledge.value("romosozumab_course_doses"))
    complete = len(dose_days) >= course_doses
    last = dose_days[-1]
    next_due = None if complete else add_months(
        last, int(knowledge.value("romosozumab_dose_interval_months")))
    antiresorptive_after = any(
        "antiresorptive" in u.match.drug.classes and u.dose_day is not None and u.dose_day > last
        for u in uses)
    ordered = any(_is_antiresorptive(knowledge, order) for order in draft_orders)
    return RomosozumabCourse(doses_given=len(dose_days), first_dose=dose_days[0], last_dose=last,
                             next_dose_due=next_due, complete=complete,
                             antiresorptive_since=antiresorptive_after, doses=tuple(evidence),
                             antiresorptive_ordered=ordered)


def _is_antiresorptive(knowledge: Knowledge, order: DraftOrder) -> bool:
    match = knowledge.match_drug(order.codings, order.text)
    return bool(match and match.counts and "antiresorptive" in match.drug.classes)
