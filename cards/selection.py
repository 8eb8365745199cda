"""Which card topics fit the moment: the by-hook table of issue 5.

| hook          | shows                                                                        |
|---------------|------------------------------------------------------------------------------|
| patient-view  | every applicable topic except romosozumab-not-indicated and denosumab-switch |
| order-select  | reacts to the SELECTED orders only                                           |
| order-sign    | blocks only, on all draft orders; never proposals                            |

Deceased patients get no treatment cards (the caller returns none before asking here).
"""

from __future__ import annotations

from cards.context import ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, CardContext
from service.evaluation.model import (
    CardiovascularVerdict,
    DenosumabState,
    OrderClass,
    RomosozumabDecision,
    Status,
)


def _would_be_proposed(ctx: CardContext) -> bool:
    """Population and very high risk met; only a block stands in the way."""
    return ctx.assessment.romosozumab_decision is RomosozumabDecision.CONTRAINDICATED


def _cv_blocks(ctx: CardContext) -> bool:
    return ctx.assessment.cardiovascular.verdict is CardiovascularVerdict.CONTRAINDICATED


def _calcium_blocks(ctx: CardContext) -> bool:
    return ctx.assessment.hypocalcemia.status is Status.MET


def _prior_event_caution(ctx: CardContext) -> bool:
    cv = ctx.assessment.cardiovascular
    return cv.verdict is CardiovascularVerdict.CAUTION and bool(cv.prior_events)


def _proposal_topics(ctx: CardContext) -> list[str]:
    """The proposal with its caution, or the block that prevents it."""
    decision = ctx.assessment.romosozumab_decision
    if decision is RomosozumabDecision.PROPOSE:
        return ["romosozumab-proposal"] + (
            ["romosozumab-cv-caution"] if _prior_event_caution(ctx) else [])
    if _would_be_proposed(ctx):
        return (["romosozumab-cv-contraindication"] if _cv_blocks(ctx) else []) + (
            ["romosozumab-hypocalcemia"] if _calcium_blocks(ctx) else [])
    return []


def _romosozumab_order_blocks(ctx: CardContext) -> list[str]:
    """Every romosozumab block, for a romosozumab draft order (whatever the risk level)."""
    a = ctx.assessment
    topics = []
    if _cv_blocks(ctx):
        topics.append("romosozumab-cv-contraindication")
    if _calcium_blocks(ctx):
        topics.append("romosozumab-hypocalcemia")
    if a.population.status is Status.NOT_MET:
        topics.append("romosozumab-not-indicated")
    if a.romosozumab_course.complete:
        topics.append("romosozumab-course-complete")
    return topics


def _denosumab_reminders(ctx: CardContext) -> list[str]:
    d = ctx.assessment.denosumab
    if d.rebound_fractures:
        return ["denosumab-rebound-fracture"]
    topics = {
        DenosumabState.OVERDUE: ["denosumab-overdue"],
        DenosumabState.CURRENT: ["denosumab-next-dose"],
        DenosumabState.FOLLOWED_ON: ["denosumab-follow-on-monitoring"] if d.ctx_check_dates else [],
    }
    return topics.get(d.state, [])


def patient_view_topics(ctx: CardContext) -> list[str]:
    a = ctx.assessment
    topics = _proposal_topics(ctx)
    course = a.romosozumab_course
    if course.complete and not course.antiresorptive_since:
        topics.append("romosozumab-course-complete")
    elif a.romosozumab_decision is RomosozumabDecision.ALREADY_ON_COURSE:
        # a myocardial infarction or stroke mid-course stops it (boxed warning): no next dose
        topics.append("romosozumab-cv-contraindication" if _cv_blocks(ctx)
                      else "romosozumab-course-progress")
    if (a.romosozumab_decision is RomosozumabDecision.NOT_INDICATED
            and a.very_high_risk.status is Status.MET and a.osteoporosis is not None):
        topics.append("very-high-risk-other-agents")
    return topics + _denosumab_reminders(ctx)


def order_select_topics(ctx: CardContext) -> list[str]:
    topics: list[str] = []
    if ctx.orders_of(OrderClass.WEAKER_AGENT):
        topics += _proposal_topics(ctx)
    if ctx.orders_of(OrderClass.ROMOSOZUMAB):
        topics += [t for t in _romosozumab_order_blocks(ctx) if t not in topics]
    if _switching(ctx):
        topics.append("denosumab-switch")
    return topics


def order_sign_topics(ctx: CardContext) -> list[str]:
    topics = _romosozumab_order_blocks(ctx) if ctx.orders_of(OrderClass.ROMOSOZUMAB) else []
    if _switching(ctx):
        topics.append("denosumab-switch")
    return topics


def _switching(ctx: CardContext) -> bool:
    switch_refs = set(ctx.assessment.denosumab.switch_orders)
    return any(order.reference in switch_refs for order in ctx.orders_in_play())


TOPICS_BY_HOOK = {
    PATIENT_VIEW: patient_view_topics,
    ORDER_SELECT: order_select_topics,
    ORDER_SIGN: order_sign_topics,
}


def topics_for(ctx: CardContext) -> list[str]:
    """Card topics for this hook, in display order (most urgent first)."""
    topics = TOPICS_BY_HOOK[ctx.hook](ctx)
    return list(dict.fromkeys(topics))
