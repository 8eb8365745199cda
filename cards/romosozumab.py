"""Romosozumab cards: proposal, cardiovascular caution/contraindication, hypocalcemia, label,
course complete, course progress, and the agents indicated when romosozumab is not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cards import format as fmt
from cards import wording
from cards.card import create_action, deletable, delete_action, make_card, suggestion
from cards.context import ORDER_SELECT, CardContext
from service.evaluation.model import (
    CardiovascularVerdict,
    ClassifiedOrder,
    CriterionResult,
    DenosumabState,
    Evidence,
    OrderClass,
    PopulationReason,
    RomosozumabDecision,
    Status,
)
from service.knowledge.knowledge import OtherGuidelines, Rule

FOLLOW_ON_AGENTS = ("alendronate", "zoledronic-acid")
# Denosumab in use or stopped within the rebound window: the alternatives must prevent the rebound
REBOUND_STATES = frozenset({DenosumabState.CURRENT, DenosumabState.OVERDUE})
ORDERED_FOLLOW_ONS = ("zoledronic-acid", "denosumab")


# --- shared sections ---------------------------------------------------------------------------
def criterion_lines(criterion: CriterionResult) -> list[str]:
    """The criterion label, then its evidence as sub-bullets."""
    lines = [f"- {criterion.label}{wording.UNVERIFIED_MARK if criterion.unverified else ''}"]
    lines += [f"  {fmt.evidence_line(e)}" for e in criterion.evidence]
    return lines


def criteria_section(ctx: CardContext) -> str:
    a = ctx.assessment
    lines = criterion_lines(a.population) if a.population.status is Status.MET else []
    for criterion in a.risk_criteria:
        if criterion.status is Status.MET:
            lines += criterion_lines(criterion)
    return fmt.section(wording.H_CRITERIA, lines)


def disputed_criteria(ctx: CardContext) -> list[tuple[str, OtherGuidelines]]:
    """The met very-high-risk criteria with what other guidelines say, when every met criterion
    is one they draw differently (research 1.7: a low T-score, FRAX or age without a fracture);
    empty when any met criterion is undisputed (a fracture)."""
    rules: Mapping[str, Rule] = getattr(ctx.knowledge, "rules", None) or {}
    found: list[tuple[str, OtherGuidelines]] = []
    for criterion in ctx.assessment.risk_criteria:
        if criterion.status is not Status.MET:
            continue
        rule = rules.get(criterion.id)
        note = rule.other_guidelines if rule is not None else None
        if note is None:
            return []  # an undisputed criterion (a fracture) is met
        found.append((criterion.label, note))
    return found


def guidelines_differ_section(disputed: list[tuple[str, OtherGuidelines]]) -> str:
    lines = [f"{label}: {note.text} [{note.verification}]" for label, note in disputed]
    return fmt.section(wording.H_GUIDELINES_DIFFER, lines)


def guidelines_differ_citations(disputed: list[tuple[str, OtherGuidelines]]) -> list[str]:
    return [cid for _, note in disputed for cid in note.citations]


def cardiovascular_lines(ctx: CardContext) -> list[str]:
    cv = ctx.assessment.cardiovascular
    lines: list[str] = []
    if cv.recent_events:
        lines.append(wording.CV_RECENT)
        lines += [f"  {fmt.evidence_line(e, undated_note=wording.VERIFY_DATE)}"
                  for e in cv.recent_events]
    if cv.prior_events:
        lines.append(wording.CV_PRIOR)
        lines += [f"  {fmt.evidence_line(e)}" for e in cv.prior_events]
    if cv.verdict is CardiovascularVerdict.UNKNOWN:
        lines.append(wording.CV_UNKNOWN)
    elif not cv.recent_events and not cv.prior_events:
        unread = ctx.assessment.unread_conditions > 0
        lines.append(wording.CV_CLEAR_READABLE if unread else wording.CV_CLEAR)
    return lines


def calcium_lines(ctx: CardContext) -> list[str]:
    """The calcium check, each fact once: the evaluation's note is added only when the lines do
    not already say it (no calcium in 12 months is HYPO_UNKNOWN's own sentence). Low calcium
    comes with the latest 25-hydroxyvitamin D, ungraded, for the repletion."""
    hypo = ctx.assessment.hypocalcemia
    if hypo.status is Status.MET:
        lines = [wording.HYPO_LOW, *(f"  {fmt.evidence_line(e)}" for e in hypo.evidence)]
        vitamin_d = ctx.assessment.vitamin_d
        if vitamin_d is not None:
            lines.append(f"{fmt.evidence_line(vitamin_d)[2:]}; {wording.VITAMIN_D_SHOWN}")
    elif hypo.status is Status.UNKNOWN and not hypo.evidence:
        return [wording.HYPO_UNKNOWN]
    elif hypo.status is Status.UNKNOWN:
        lines = [wording.HYPO_UNJUDGED, *(f"  {fmt.evidence_line(e)}" for e in hypo.evidence)]
    else:
        latest = [fmt.evidence_line(e)[2:] for e in hypo.evidence[:1]]
        lines = [f"{wording.HYPO_OK} {'; '.join(latest)}".strip()]
    note = fmt.plain(hypo.note) if hypo.note else ""
    if note and not any(note.lower() in line.lower() for line in lines):
        lines.append(note)
    return lines


def course_lines(ctx: CardContext) -> list[str]:
    course = ctx.assessment.romosozumab_course
    if course.doses_given == 0:
        return [wording.COURSE_NONE]
    return [wording.COURSE_DOSES.format(doses=course.doses_given)]


def exclusions_section(ctx: CardContext) -> str:
    lines = cardiovascular_lines(ctx) + calcium_lines(ctx) + course_lines(ctx)
    return fmt.section(wording.H_EXCLUSIONS, lines)


def gaps_section(ctx: CardContext) -> str:
    return fmt.section(wording.H_GAPS, [fmt.plain(gap) for gap in ctx.assessment.data_gaps])


def not_offered_section(ctx: CardContext, drugs: tuple[str, ...]) -> str:
    """The drugs the patient's data rules out, then what to check before ordering the others."""
    return fmt.join_sections(fmt.section(wording.H_NOT_OFFERED, ctx.ruled_out_lines(drugs)),
                             fmt.section(wording.H_BEFORE_ORDERING, ctx.caution_lines(drugs)))


def follow_on_agents_text(ctx: CardContext) -> str:
    names = ctx.allowed_names(FOLLOW_ON_AGENTS) or ctx.allowed_names(("denosumab",))
    return fmt.names_list(names) or wording.ANTIRESORPTIVE_FALLBACK


def proposal_plan_lines(ctx: CardContext) -> list[str]:
    lines = [
        wording.ROMOSOZUMAB_REGIMEN,
        wording.PLAN_AFTER_COURSE.format(agents=follow_on_agents_text(ctx)),
        wording.PLAN_CALCIUM,
        wording.PLAN_BOXED_WARNING,
    ]
    factors = ctx.assessment.cardiovascular.risk_factors
    if factors:
        lines.append(wording.PLAN_CV_RISK_FACTORS)
        lines += [f"  {fmt.evidence_line(e)}" for e in factors]
    renal = ctx.assessment.cardiovascular.severe_renal_impairment
    if renal is not None and renal.value:
        lines.append(wording.PLAN_MONITOR_CALCIUM_RENAL.format(egfr=fmt.plain(renal.value)))
    return lines


def plan_note(ctx: CardContext) -> str:
    """The plan carried in the order's note (plain text)."""
    return " ".join([
        wording.ROMOSOZUMAB_REGIMEN,
        wording.PLAN_AFTER_COURSE.format(agents=follow_on_agents_text(ctx)),
        wording.PLAN_CALCIUM,
        wording.PLAN_BOXED_WARNING,
    ])


def romosozumab_citations(ctx: CardContext,
                          disputed: list[tuple[str, OtherGuidelines]]) -> tuple[str, ...]:
    a = ctx.assessment
    ids: list[str] = [*a.population.citations]
    for criterion in a.risk_criteria:
        if criterion.status is Status.MET:
            ids += criterion.citations
    ids += guidelines_differ_citations(disputed)
    ids += a.cardiovascular.citations
    ids += a.hypocalcemia.citations
    ids += ctx.gate_citations((*FOLLOW_ON_AGENTS, "denosumab", "romosozumab"))
    return tuple(ids)


def romosozumab_order_action(ctx: CardContext) -> dict[str, Any]:
    resource = ctx.order("romosozumab", plan_note(ctx))
    return create_action(wording.L_ORDER_ROMOSOZUMAB, resource)


def remove_orders(orders_to_remove: tuple[ClassifiedOrder, ...]) -> list[dict[str, Any]]:
    """Delete actions for the orders that have an id (callers pass `deletable` orders)."""
    return [delete_action(wording.L_REMOVE_ORDER.format(drug=fmt.drug_name(o.drug)), o.reference)
            for o in deletable(orders_to_remove)]


def follow_on_suggestions(ctx: CardContext, note: str, drugs: tuple[str, ...] = ORDERED_FOLLOW_ONS,
                          *, replacing: tuple[ClassifiedOrder, ...] = (),
                          after_denosumab: bool = False) -> list[dict[str, Any]]:
    """Order suggestions for the follow-on drugs the safety gates allow; `replacing` orders
    without an id are left for the clinician to remove (nothing can name them). After denosumab
    a zoledronate order's note adds the CTX checks (ECTS 2021 algorithm, [U])."""
    replacing = deletable(replacing)
    labels = {"denosumab": wording.L_ORDER_DENOSUMAB,
              "zoledronic-acid": wording.L_ORDER_ZOLEDRONATE,
              "alendronate": wording.L_ORDER_ALENDRONATE}
    result = []
    for drug in drugs:
        if not ctx.allowed(drug):
            continue
        drug_note = note
        if after_denosumab and drug == "zoledronic-acid":
            drug_note = f"{note} {wording.ZOLEDRONATE_AFTER_DENOSUMAB_NOTE}"
        resource = ctx.order(drug, drug_note)
        actions = [*remove_orders(replacing), create_action(labels[drug], resource)]
        label = labels[drug]
        if replacing:
            label = wording.L_REPLACE_WITH.format(
                drug=fmt.drug_name(replacing[0].drug), other=fmt.drug_name(drug))
        result.append(suggestion(label, actions))
    return result


# --- proposal ----------------------------------------------------------------------------------
def proposal(ctx: CardContext) -> dict[str, Any]:
    weaker = ctx.orders_of(OrderClass.WEAKER_AGENT) if ctx.hook == ORDER_SELECT else ()
    rebound = ctx.assessment.denosumab.rebound_fractures
    summary = wording.S_PROPOSAL
    if weaker:
        summary = wording.S_PROPOSAL_INSTEAD.format(drug=fmt.drug_name(weaker[0].drug))
    suggestions = []
    if ctx.allowed("romosozumab"):
        # one order for both suggestions: make_card's prune gives each suggestion its own copy
        order = romosozumab_order_action(ctx)
        suggestions.append(suggestion(wording.L_ORDER_ROMOSOZUMAB, [order],
                                      recommended=not weaker and not rebound))
        replaceable = deletable(weaker)
        if replaceable:
            label = wording.L_REPLACE_WITH_ROMOSOZUMAB.format(
                drug=fmt.drug_name(replaceable[0].drug))
            suggestions.append(suggestion(label, [*remove_orders(replaceable), order]))
    disputed = disputed_criteria(ctx)
    sections = [
        criteria_section(ctx),
        guidelines_differ_section(disputed),
        _rebound_section(ctx),
        exclusions_section(ctx),
        fmt.section(wording.H_PLAN, proposal_plan_lines(ctx)),
        not_offered_section(ctx, ("romosozumab", *FOLLOW_ON_AGENTS, "denosumab")),
        gaps_section(ctx),
    ]
    citations = romosozumab_citations(ctx, disputed)
    if rebound:
        citations += wording.REBOUND_CONTEXT_CITATIONS
    return make_card(ctx, "romosozumab-proposal", summary=summary,
                     indicator="warning" if weaker else "info", sections=sections,
                     citation_ids=citations, suggestions=suggestions)


def _rebound_section(ctx: CardContext) -> str:
    """Rebound vertebral fractures after denosumab: the guideline options come first."""
    rebound = ctx.assessment.denosumab.rebound_fractures
    if not rebound:
        return ""
    text = wording.PROPOSAL_REBOUND_TEXT.format(date=fmt.short_when(rebound[0].when))
    return "\n".join([wording.H_AFTER_DENOSUMAB, f"- {text}"])


def cv_caution(ctx: CardContext) -> dict[str, Any]:
    cv = ctx.assessment.cardiovascular
    latest = max(cv.prior_events, key=lambda e: fmt.latest_day(e.when))
    sections = [
        fmt.section(wording.H_EVENTS, cardiovascular_lines(ctx)),
        wording.CV_CAUTION_TEXT,
        fmt.section(wording.H_PLAN, [wording.PLAN_BOXED_WARNING, *(
            f"Other risk factor: {fmt.evidence_line(e)[2:]}" for e in cv.risk_factors)]),
        gaps_section(ctx),
    ]
    return make_card(ctx, "romosozumab-cv-caution",
                     summary=wording.S_CV_CAUTION.format(date=fmt.short_when(latest.when)),
                     indicator="warning", sections=sections, citation_ids=cv.citations)


# --- blocks --------------------------------------------------------------------------------------
def _block_suggestions(ctx: CardContext) -> list[dict[str, Any]]:
    romo = deletable(ctx.orders_of(OrderClass.ROMOSOZUMAB))
    if not romo:
        return []
    return [suggestion(wording.L_REMOVE_ROMOSOZUMAB, [
        delete_action(wording.L_REMOVE_ROMOSOZUMAB, o.reference) for o in romo],
        recommended=True)]


def romosozumab_alternatives(ctx: CardContext) -> tuple[str, ...]:
    """The agents a card names instead of romosozumab: antiresorptives only when the patient is
    on or coming off denosumab (the others do not prevent the rebound) or stops a romosozumab
    course early (an antiresorptive follows romosozumab); otherwise the osteoporosis agents."""
    denosumab = ctx.assessment.denosumab
    if denosumab.rebound_fractures or denosumab.state in REBOUND_STATES:
        return wording.ALTERNATIVES_AFTER_DENOSUMAB
    if ctx.assessment.romosozumab_decision is RomosozumabDecision.ALREADY_ON_COURSE:
        return wording.ALTERNATIVES_AFTER_ROMOSOZUMAB
    return wording.ALTERNATIVES_ROMOSOZUMAB


def _alternatives_section(ctx: CardContext, drugs: tuple[str, ...]) -> str:
    names = ctx.allowed_names(drugs)
    lines = [f"Alternatives: {fmt.names_list(names)}."] if names else []
    return fmt.section(wording.H_OPTIONS,
                       lines + ctx.ruled_out_lines(drugs) + ctx.caution_lines(drugs))


def cv_contraindication(ctx: CardContext) -> dict[str, Any]:
    cv = ctx.assessment.cardiovascular
    ordered = bool(ctx.orders_of(OrderClass.ROMOSOZUMAB))
    events = cv.recent_events or cv.prior_events
    first = events[0] if events else None
    kind = _event_kind(first)
    if first is None or first.when is None or not first.when.is_known:
        event, day = f"{kind} with no recorded date", "verify date"
    elif cv.recent_events:
        event, day = f"{kind} within 12 months", fmt.short_when(first.when)
    else:
        event, day = f"prior {kind} (EU policy)", fmt.short_when(first.when)
    mid_course = ctx.assessment.romosozumab_decision is RomosozumabDecision.ALREADY_ON_COURSE
    template = wording.S_CV_CONTRA_ORDERED if ordered else wording.S_CV_CONTRA_ADVISORY
    if mid_course:
        template = wording.S_CV_STOP
    text = wording.CV_CONTRA_TEXT if cv.recent_events else wording.CV_CONTRA_EU_TEXT
    if any(e.when is None or not e.when.is_known for e in events):
        text = f"{text} {wording.CV_UNDATED_TEXT}"
    eu_citation = () if cv.recent_events else (wording.EU_CV_CITATION,)
    course_lines = [*_dose_lines(ctx), *_doses_after_event(ctx, first)] if mid_course else []
    sections = [
        fmt.section(wording.H_EVENTS, cardiovascular_lines(ctx)),
        *([wording.CV_STOP_TEXT, fmt.section("**Course**", course_lines)] if mid_course
          else []),
        text,
        _alternatives_section(ctx, romosozumab_alternatives(ctx)),
        gaps_section(ctx),
    ]
    return make_card(ctx, "romosozumab-cv-contraindication",
                     summary=template.format(event=event, date=day),
                     indicator="critical" if ordered or mid_course else "warning",
                     sections=sections,
                     citation_ids=(*eu_citation, *cv.citations),
                     suggestions=_block_suggestions(ctx))


def _event_kind(event: Evidence | None) -> str:
    """'MI' or 'stroke' for a summary, from the value set the event was found in; the generic
    words when it is not known."""
    kind = event.kind if event is not None else None
    return wording.EVENT_KIND_WORDS.get(kind or "", "MI or stroke")


def _doses_after_event(ctx: CardContext, event: Evidence | None) -> list[str]:
    """The romosozumab doses given after the MI or stroke (on or after its earliest date)."""
    if event is None or event.when is None or event.when.earliest is None:
        return []
    onset = event.when.earliest
    after = [dose.when for dose in ctx.assessment.romosozumab_course.doses
             if dose.when is not None and dose.when.earliest is not None
             and dose.when.earliest >= onset]
    if not after:
        return []
    dates = ", ".join(fmt.short_when(when) for when in after)
    return [wording.CV_DOSES_AFTER_EVENT.format(event=fmt.short_when(event.when),
                                                count=len(after), dates=dates)]


def hypocalcemia(ctx: CardContext) -> dict[str, Any]:
    hypo = ctx.assessment.hypocalcemia
    ordered = bool(ctx.orders_of(OrderClass.ROMOSOZUMAB))
    valued = next((e for e in hypo.evidence if e.value), None)
    value = "low calcium recorded"
    if valued is not None and valued.value:
        value = f"{valued.value.split(' (')[0]}, {fmt.short_when(valued.when)}"
    template = wording.S_HYPO_ORDERED if ordered else wording.S_HYPO_ADVISORY
    sections = [
        fmt.section(wording.H_EVENTS, calcium_lines(ctx)),
        wording.HYPO_TEXT,
        _alternatives_section(ctx, romosozumab_alternatives(ctx)),
        gaps_section(ctx),
    ]
    return make_card(ctx, "romosozumab-hypocalcemia", summary=template.format(value=value),
                     indicator="critical" if ordered else "warning", sections=sections,
                     citation_ids=hypo.citations, suggestions=_block_suggestions(ctx))


def not_indicated(ctx: CardContext) -> dict[str, Any]:
    population = ctx.assessment.population
    lines = criterion_lines(population)
    if population.note:
        lines.append(population.note)
    # The alternatives are osteoporosis agents: named only when osteoporosis is documented.
    alternatives = (_alternatives_section(ctx, romosozumab_alternatives(ctx))
                    if ctx.assessment.osteoporosis is not None else "")
    sections = [
        fmt.section("**Labelled population not met**", lines),
        not_indicated_text(ctx),
        alternatives,
        gaps_section(ctx),
    ]
    summary = wording.S_NOT_INDICATED_BY_REASON.get(population.reason or "",
                                                    wording.S_NOT_INDICATED)
    return make_card(ctx, "romosozumab-not-indicated", summary=summary,
                     indicator="warning", sections=sections, citation_ids=population.citations,
                     suggestions=_block_suggestions(ctx))


def not_indicated_text(ctx: CardContext) -> str:
    """The labelled population; the approvals for men only when the patient is a man."""
    if ctx.assessment.population.reason == PopulationReason.MALE:
        return f"{wording.NOT_INDICATED_TEXT} {wording.NOT_INDICATED_MEN_TEXT}"
    return wording.NOT_INDICATED_TEXT


def other_agents_text(ctx: CardContext) -> str:
    """Why romosozumab is not for this patient (their own reason), then the agents' lead-in."""
    reason = ctx.assessment.population.reason or ""
    why = wording.WHY_NOT_ROMOSOZUMAB.get(reason, wording.WHY_NOT_ROMOSOZUMAB_FALLBACK)
    return wording.OTHER_AGENTS_TEXT.format(why=why)


def other_agents(ctx: CardContext) -> dict[str, Any]:
    a = ctx.assessment
    names = ctx.allowed_names(romosozumab_alternatives(ctx))
    population_lines = criterion_lines(a.population)
    disputed = disputed_criteria(ctx)
    sections = [
        criteria_section(ctx),
        guidelines_differ_section(disputed),
        fmt.section("**Why not romosozumab**", population_lines),
        fmt.section(wording.H_OPTIONS, [f"{other_agents_text(ctx)} {fmt.names_list(names)}."]),
        not_offered_section(ctx, romosozumab_alternatives(ctx)),
        not_indicated_text(ctx),
        gaps_section(ctx),
    ]
    ids = [*a.very_high_risk.citations, *a.population.citations]
    for criterion in a.risk_criteria:
        if criterion.status is Status.MET:
            ids += criterion.citations
    ids += guidelines_differ_citations(disputed)
    agents = fmt.names_list(names) or "a specialist review"
    return make_card(ctx, "very-high-risk-other-agents",
                     summary=wording.S_OTHER_AGENTS.format(agents=agents), indicator="info",
                     sections=sections, citation_ids=ids)


# --- course ------------------------------------------------------------------------------------
def _dose_lines(ctx: CardContext) -> list[str]:
    course = ctx.assessment.romosozumab_course
    lines = [wording.COURSE_DOSES.format(doses=course.doses_given)]
    if course.first_dose and course.last_dose:
        lines.append(f"First dose {fmt.iso(course.first_dose)}, last dose "
                     f"{fmt.iso(course.last_dose)}")
    return lines


def course_complete(ctx: CardContext) -> dict[str, Any]:
    course = ctx.assessment.romosozumab_course
    last = fmt.iso(course.last_dose) if course.last_dose else "date unknown"
    note = "Antiresorptive after a completed 12-dose romosozumab course."
    romo = ctx.orders_of(OrderClass.ROMOSOZUMAB)
    suggestions = _block_suggestions(ctx) + follow_on_suggestions(
        ctx, note, (*FOLLOW_ON_AGENTS, "denosumab"), replacing=romo)
    sections = [
        fmt.section("**Course**", _dose_lines(ctx)),
        wording.COURSE_COMPLETE_TEXT,
        fmt.section(wording.H_PLAN, [
            wording.COURSE_COMPLETE_PLAN.format(agents=follow_on_agents_text(ctx)),
            wording.COURSE_COMPLETE_DENOSUMAB if ctx.allowed("denosumab") else "",
            wording.PLAN_CALCIUM]),
        not_offered_section(ctx, (*FOLLOW_ON_AGENTS, "denosumab")),
        gaps_section(ctx),
    ]
    ids = [*ctx.assessment.hypocalcemia.citations,
           *ctx.gate_citations((*FOLLOW_ON_AGENTS, "denosumab"))]
    ids = [*ctx.assessment.population.citations, *ids]
    return make_card(ctx, "romosozumab-course-complete",
                     summary=wording.S_COURSE_COMPLETE.format(date=last), indicator="warning",
                     sections=sections, citation_ids=ids, suggestions=suggestions)


def course_progress(ctx: CardContext) -> dict[str, Any] | None:
    course = ctx.assessment.romosozumab_course
    if course.next_dose_due is None:
        return None
    missed = course.next_dose_due < ctx.assessment.as_of
    due = f"Dose {course.doses_given + 1} of 12 due {fmt.iso(course.next_dose_due)}."
    sections = [
        fmt.section("**Course**", _dose_lines(ctx)),
        fmt.section(wording.H_PLAN, [
            wording.PLAN_MISSED_DOSE if missed else due,
            wording.PLAN_CALCIUM, wording.PLAN_BOXED_WARNING,
            wording.PLAN_AFTER_COURSE.format(agents=follow_on_agents_text(ctx))]),
        gaps_section(ctx),
    ]
    template = wording.S_COURSE_DOSE_MISSED if missed else wording.S_COURSE_PROGRESS
    summary = template.format(next=course.doses_given + 1, date=fmt.iso(course.next_dose_due))
    return make_card(ctx, "romosozumab-course-progress", summary=summary,
                     indicator="warning" if missed else "info", sections=sections,
                     citation_ids=ctx.assessment.cardiovascular.citations)
