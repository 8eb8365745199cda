"""Denosumab cards: overdue dose, switch without rebound protection, rebound fracture, next dose,
and monitoring after a zoledronate follow-on."""

from __future__ import annotations

from typing import Any

from cards import format as fmt
from cards import wording
from cards.card import make_card, suggestion
from cards.context import CardContext
from cards.romosozumab import (
    follow_on_suggestions,
    gaps_section,
    not_offered_section,
    romosozumab_order_action,
)

REBOUND_AGENTS = ("denosumab", "zoledronic-acid")


def _last_dose_lines(ctx: CardContext) -> list[str]:
    d = ctx.assessment.denosumab
    lines = []
    if d.last_dose is not None:
        label = "Last denosumab dose" if d.last_dose_recorded else "Denosumab use"
        lines.append(f"{label}: {fmt.evidence_line(d.last_dose)[2:]}")
    if d.months_since_last_dose is not None:
        lines.append(f"Time since the last dose: {elapsed_since_last_dose(ctx)}")
    if d.next_dose_due is not None:
        label = "Next dose due" if d.next_dose_due >= ctx.assessment.as_of else "Dose was due"
        lines.append(f"{label} {fmt.iso(d.next_dose_due)}")
    if d.overdue_after is not None:
        lines.append(f"Overdue after {fmt.iso(d.overdue_after)} (6 months + 28 days)")
    return lines


def elapsed_since_last_dose(ctx: CardContext) -> str:
    """'6 months 29 days': whole months and the days past them, as the overdue rule counts."""
    d = ctx.assessment.denosumab
    if d.months_since_last_dose is None:
        return "?"
    months = f"{d.months_since_last_dose} month{'' if d.months_since_last_dose == 1 else 's'}"
    if d.days_past_months == 0:
        return months
    return f"{months} {d.days_past_months} day{'' if d.days_past_months == 1 else 's'}"


def _last_dose_date(ctx: CardContext) -> str:
    last = ctx.assessment.denosumab.last_dose
    return fmt.short_when(last.when) if last is not None else wording.DATE_UNKNOWN


def _citations(ctx: CardContext, drugs: tuple[str, ...] = REBOUND_AGENTS) -> tuple[str, ...]:
    return (*ctx.assessment.denosumab.citations, *ctx.gate_citations(drugs))


def overdue(ctx: CardContext) -> dict[str, Any]:
    d = ctx.assessment.denosumab
    options = []
    if ctx.allowed("denosumab"):
        options.append(wording.DMAB_OPTION_DOSE)
    if ctx.allowed("zoledronic-acid"):
        options.append(wording.DMAB_OPTION_ZOL)
    options.append(wording.DMAB_OPTION_SPINE)
    sections = [
        fmt.section(wording.H_DENOSUMAB, _last_dose_lines(ctx)),
        wording.DMAB_REBOUND_TEXT,
        fmt.section(wording.H_OPTIONS, [wording.DMAB_OVERDUE_OPTIONS_TEXT, *options]),
        not_offered_section(ctx, REBOUND_AGENTS),
        gaps_section(ctx),
    ]
    note = "Denosumab overdue: prevent rebound bone loss (ECTS 2021)."
    template = wording.S_DMAB_OVERDUE if d.last_dose_recorded else wording.S_DMAB_OVERDUE_UNRECORDED
    action = wording.DMAB_OVERDUE_ACTIONS[(ctx.allowed("denosumab"),
                                           ctx.allowed("zoledronic-acid"))]
    summary = template.format(date=_last_dose_date(ctx), elapsed=elapsed_since_last_dose(ctx),
                              action=action)
    return make_card(ctx, "denosumab-overdue", summary=summary, indicator="warning",
                     sections=sections, citation_ids=_citations(ctx),
                     suggestions=follow_on_suggestions(ctx, note, REBOUND_AGENTS,
                                                       after_denosumab=True))


def switch(ctx: CardContext) -> dict[str, Any] | None:
    switch_refs = set(ctx.assessment.denosumab.switch_orders)
    switching = tuple(o for o in ctx.orders_in_play() if o.reference in switch_refs)
    if not switching:
        return None
    drug = fmt.drug_name(switching[0].drug)
    note = "Keep rebound protection when moving away from denosumab (ECTS 2021)."
    suggestions = follow_on_suggestions(ctx, note, REBOUND_AGENTS, replacing=switching,
                                        after_denosumab=True)
    sections = [
        fmt.section(wording.H_DENOSUMAB, [*_last_dose_lines(ctx), *(
            f"Draft order: {fmt.drug_name(o.drug)}" for o in switching)]),
        wording.DMAB_SWITCH_TEXT,
        wording.DMAB_REBOUND_TEXT,
        not_offered_section(ctx, REBOUND_AGENTS),
        gaps_section(ctx),
    ]
    return make_card(ctx, "denosumab-switch", summary=wording.S_DMAB_SWITCH.format(drug=drug),
                     indicator="warning", sections=sections, citation_ids=_citations(ctx),
                     suggestions=suggestions)


def _rebound_guideline_option(ctx: CardContext) -> str:
    choices = [text for drug, text in (("denosumab", wording.REBOUND_OPTION_DENOSUMAB),
                                       ("zoledronic-acid", wording.REBOUND_OPTION_ZOLEDRONATE))
               if ctx.allowed(drug)]
    if not choices:
        return wording.REBOUND_NO_GUIDELINE_OPTION
    return wording.REBOUND_GUIDELINE_TEXT.format(options=fmt.names_list(choices))


def rebound_fracture(ctx: CardContext) -> dict[str, Any]:
    d = ctx.assessment.denosumab
    fractures = [fmt.evidence_line(e) for e in d.rebound_fractures]
    options = [_rebound_guideline_option(ctx)]
    romo_offered = ctx.assessment.rebound_romosozumab_allowed and ctx.allowed("romosozumab")
    if romo_offered:
        options.append(wording.REBOUND_ROMO_TEXT)
    else:  # the gate's own line below names the evidence when it rules romosozumab out
        options.append(wording.REBOUND_ROMO_BLOCKED if ctx.allowed("romosozumab")
                       else wording.REBOUND_ROMO_RULED_OUT)
    note = "Rebound vertebral fracture after denosumab discontinuation (ECTS 2021)."
    suggestions = follow_on_suggestions(ctx, note, REBOUND_AGENTS, after_denosumab=True)
    if romo_offered:
        suggestions.append(suggestion("Order romosozumab 210 mg SC monthly x 12 (case-series "
                                      "evidence)", [romosozumab_order_action(ctx)]))
    sections = [
        fmt.section("**Vertebral fractures after the missed dose**", fractures),
        fmt.section(wording.H_DENOSUMAB, _last_dose_lines(ctx)),
        wording.DMAB_REBOUND_TEXT,
        fmt.section(wording.H_OPTIONS, options),
        not_offered_section(ctx, (*REBOUND_AGENTS, "romosozumab")),
        gaps_section(ctx),
    ]
    first = d.rebound_fractures[0].when if d.rebound_fractures else None
    return make_card(ctx, "denosumab-rebound-fracture",
                     summary=wording.S_REBOUND.format(date=fmt.short_when(first)),
                     indicator="warning", sections=sections,
                     citation_ids=_citations(ctx, (*REBOUND_AGENTS, "romosozumab")),
                     suggestions=suggestions)


def next_dose(ctx: CardContext) -> dict[str, Any] | None:
    d = ctx.assessment.denosumab
    if d.next_dose_due is None:
        return None
    agents = fmt.names_list(ctx.allowed_names(("zoledronic-acid", "alendronate"))) or (
        "an antiresorptive the patient's kidney function allows")
    sections = [
        fmt.section(wording.H_DENOSUMAB, _last_dose_lines(ctx)),
        fmt.section(wording.H_PLAN, [wording.NEXT_DOSE_TEXT.format(agents=agents)]),
        not_offered_section(ctx, ("zoledronic-acid", "alendronate")),
        gaps_section(ctx),
    ]
    summary = wording.S_NEXT_DOSE.format(date=fmt.iso(d.next_dose_due))
    if d.next_dose_due < ctx.assessment.as_of and d.overdue_after is not None:
        summary = wording.S_DOSE_DUE_SINCE.format(date=fmt.iso(d.next_dose_due),
                                                  by=fmt.iso(d.overdue_after))
    return make_card(ctx, "denosumab-next-dose", summary=summary,
                     indicator="info", sections=sections,
                     citation_ids=_citations(ctx, ("zoledronic-acid", "alendronate")))


def follow_on_monitoring(ctx: CardContext) -> dict[str, Any] | None:
    d = ctx.assessment.denosumab
    if len(d.ctx_check_dates) < 2:
        return None
    first, second = (fmt.iso(day) for day in d.ctx_check_dates[:2])
    follow_on = [f"Follow-on: {fmt.evidence_line(d.follow_on)[2:]}"] if d.follow_on else []
    sections = [
        fmt.section(wording.H_DENOSUMAB, [*_last_dose_lines(ctx)[:1], *follow_on]),
        fmt.section(wording.H_PLAN, [
            wording.FOLLOW_ON_TEXT, f"CTX on {first} and {second}.",
            wording.FOLLOW_ON_REPEAT if ctx.allowed("zoledronic-acid") else ""]),
        not_offered_section(ctx, ("zoledronic-acid",)),
        gaps_section(ctx),
    ]
    when = fmt.short_when(d.follow_on.when) if d.follow_on else wording.DATE_UNKNOWN
    return make_card(ctx, "denosumab-follow-on-monitoring",
                     summary=wording.S_FOLLOW_ON.format(date=when, first=first, second=second),
                     indicator="info", sections=sections, citation_ids=d.citations)

