"""Denosumab (60 mg) discontinuation: CURRENT / OVERDUE / STOPPED_LONG_AGO / FOLLOWED_ON.

due = last dose + 6 months; overdue strictly after due + 28 days (at +28 days: current);
overdue up to last dose + 24 months inclusive, then stopped long ago. The last dose is the most
recent possible day of the latest dose record. A bisphosphonate after the last dose, or a draft
order of denosumab or a bisphosphonate, is follow-on therapy. A rebound fracture is a vertebral
fracture whose whole onset interval lies after the due date with no follow-on before it.
"""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from service.evaluation.dates import add_months, wholly_on_or_after
from service.evaluation.fractures import FractureEvent
from service.evaluation.model import (
    ClassifiedOrder,
    DenosumabAssessment,
    DenosumabState,
    Evidence,
    OrderClass,
)
from service.evaluation.therapy import DrugUse, last_dose_unrecorded
from service.knowledge import Knowledge

UNRECORDED_NOTE = ("ongoing use reported since this date; no later injection date recorded: "
                   "verify the date of the last injection")
SOURCE_WORDS = {"MedicationAdministration": "administered",
                "MedicationStatement": "reported (medication statement)",
                "MedicationRequest": "ordered; administration not recorded"}


def assess_denosumab(knowledge: Knowledge, as_of: date, uses: list[DrugUse],
                     events: tuple[FractureEvent, ...], orders: tuple[ClassifiedOrder, ...]
                     ) -> DenosumabAssessment:
    """The denosumab state machine for one patient on `as_of`."""
    rule = knowledge.rule("denosumab.discontinuation")
    doses = [u for u in uses if u.match.drug.id == "denosumab" and u.dose_day is not None]
    if not doses:
        return DenosumabAssessment(DenosumabState.NONE)
    last = max(doses, key=lambda u: u.dose_day)  # type: ignore[arg-type, return-value]
    last_day = last.dose_day
    assert last_day is not None  # noqa: S101 - filtered above
    due = add_months(last_day, int(knowledge.value("denosumab_interval_months")))
    overdue_after = due + timedelta(days=int(knowledge.value("denosumab_grace_days")))
    long_ago = add_months(last_day, int(knowledge.value("denosumab_long_ago_months")))
    follow_on = _recorded_follow_on(uses, last_day)
    unrecorded = last_dose_unrecorded(last.event)
    last_evidence = Evidence(f"Denosumab 60 mg, {SOURCE_WORDS[last.event.source_type.value]}",
                             reference=last.event.reference, when=last.event.dose_date,
                             note=UNRECORDED_NOTE if unrecorded else None)
    months = relativedelta(as_of, last_day)
    rebound = _rebound(events, due, follow_on)
    state = _state(as_of, overdue_after, long_ago, follow_on, orders)
    follow_evidence = None
    if follow_on is not None:
        follow_evidence = Evidence(f"{follow_on.match.drug.display} after the last denosumab dose",
                                   reference=follow_on.event.reference,
                                   when=follow_on.event.dose_date)
    elif state is DenosumabState.FOLLOWED_ON:
        order = next(o for o in orders if _is_follow_on_order(o))
        follow_evidence = Evidence(f"Draft order: {knowledge.drug_display(order.drug or '')}",
                                   reference=order.reference)
    switches, rebound_romo = _switches(knowledge, as_of, last_day, follow_on, orders, rebound)
    citations = list(rule.citations)
    if rebound:
        citations += knowledge.rule("denosumab.rebound-fracture").citations
    if switches:
        citations += knowledge.rule("denosumab.switch").citations
    if rebound_romo:
        citations += knowledge.rule("denosumab.rebound-romosozumab").citations
    return DenosumabAssessment(
        state=state, last_dose=last_evidence, next_dose_due=due, overdue_after=overdue_after,
        months_since_last_dose=months.years * 12 + months.months, days_past_months=months.days,
        follow_on=follow_evidence,
        ctx_check_dates=_ctx_dates(knowledge, follow_on), rebound_fractures=rebound,
        switch_orders=switches, citations=tuple(dict.fromkeys(citations)),
        rebound_romosozumab_orders=rebound_romo, long_ago_limit=long_ago,
        last_dose_recorded=not unrecorded)


def _recorded_follow_on(uses: list[DrugUse], last_day: date) -> DrugUse | None:
    after = [u for u in uses if "bisphosphonate" in u.match.drug.classes
             and wholly_on_or_after(u.event.dose_date, last_day)]
    return min(after, key=lambda u: u.event.dose_date.earliest, default=None)  # type: ignore


def _is_follow_on_order(order: ClassifiedOrder) -> bool:
    return bool({OrderClass.DENOSUMAB, OrderClass.BISPHOSPHONATE} & order.classes)


def _state(as_of: date, overdue_after: date, long_ago: date, follow_on: DrugUse | None,
           orders: tuple[ClassifiedOrder, ...]) -> DenosumabState:
    if follow_on is not None:
        return DenosumabState.FOLLOWED_ON
    if as_of <= overdue_after:
        return DenosumabState.CURRENT
    if any(_is_follow_on_order(o) for o in orders):
        return DenosumabState.FOLLOWED_ON
    if as_of <= long_ago:
        return DenosumabState.OVERDUE
    return DenosumabState.STOPPED_LONG_AGO


def _rebound(events: tuple[FractureEvent, ...], due: date, follow_on: DrugUse | None
             ) -> tuple[Evidence, ...]:
    found = []
    for event in events:
        if not event.vertebral or event.onset.earliest is None or event.onset.earliest <= due:
            continue
        follow_day = follow_on.event.dose_date.latest if follow_on else None
        if follow_day is not None and follow_day <= event.onset.earliest:
            continue
        found.append(event.evidence())
    return tuple(found)


def _switches(knowledge: Knowledge, as_of: date, last_day: date, follow_on: DrugUse | None,
              orders: tuple[ClassifiedOrder, ...], rebound: tuple[Evidence, ...]
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    recent = add_months(last_day, int(knowledge.value("denosumab_switch_recent_months")))
    if follow_on is not None or as_of > recent:
        return (), ()
    switches: list[str] = []
    rebound_romo: list[str] = []
    for order in orders:
        if OrderClass.NON_PREVENTING not in order.classes:
            continue
        if rebound and OrderClass.ROMOSOZUMAB in order.classes:
            rebound_romo.append(order.reference)
        else:
            switches.append(order.reference)
    return tuple(switches), tuple(rebound_romo)


def _ctx_dates(knowledge: Knowledge, follow_on: DrugUse | None) -> tuple[date, ...]:
    if follow_on is None or follow_on.match.drug.id != "zoledronic-acid" \
            or follow_on.dose_day is None:
        return ()
    return tuple(add_months(follow_on.dose_day, int(m))
                 for m in knowledge.value("ctx_check_months"))
