"""What the evaluation concludes about one patient on one date: the contract with `cards/`.

`service.evaluation.assess(record, as_of, knowledge, policy)` returns an `Assessment`. It is pure
data: every conclusion carries the patient's own evidence and the citation ids (keys of the
knowledge citation registry) it rests on, so a card can say why and cite its source.

Like the record (`service.record.model`), the types are frozen `msgspec.Struct`s: built several
times faster than frozen dataclasses, compared and printed the same way.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from msgspec import Struct

from service.record.model import DateRange


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"  # the data needed to decide is missing; never treated as NOT_MET silently


class Evidence(Struct, frozen=True):
    """One piece of the patient's data a conclusion rests on, ready to be shown."""

    description: str  # e.g. "Vertebral fracture (ICD-10-CM M80.08XA)", "Lumbar spine T-score"
    reference: str | None = None  # "Condition/abc" in the patient's record
    when: DateRange | None = None
    value: str | None = None  # formatted value with unit, e.g. "-3.2", "7.9 mg/dL"
    note: str | None = None  # e.g. "date uncertain: verify", "not albumin-adjusted"
    kind: str | None = None  # the value set it was found in, when a card words it (an MI or stroke)


class CriterionResult(Struct, frozen=True):
    id: str  # stable, dotted: "very-high-risk.recent-fracture"
    label: str  # clinician wording: "Fracture within the past 12 months"
    status: Status
    evidence: tuple[Evidence, ...] = ()
    citations: tuple[str, ...] = ()  # citation ids in the knowledge registry
    note: str | None = None
    # addition: why NOT_MET / UNKNOWN, machine-readable (population: a PopulationReason value)
    reason: str | None = None
    unverified: bool = False  # the rule itself is marked U in the knowledge (cards say [U])


class PopulationReason(StrEnum):
    """Why the romosozumab labelled population is not met (or unknown): cards word it."""

    MALE = "male"
    PREMENOPAUSAL = "premenopausal"  # documented, or under 50 without documented menopause
    NO_OSTEOPOROSIS = "no-osteoporosis"  # no diagnosis, fragility fracture or T-score <= -2.5
    SEX_UNKNOWN = "sex-unknown"  # sex not recorded as female (nor male)
    MENOPAUSE_UNKNOWN = "menopause-unknown"  # no birth date or documentation
    NO_PATIENT = "no-patient"  # no Patient resource


class CardiovascularVerdict(StrEnum):
    CLEAR = "clear"  # no MI/stroke and no other high-risk factor found
    CAUTION = "caution"  # us policy: MI/stroke > 12 months ago, or other risk factors
    CONTRAINDICATED = "contraindicated"  # MI/stroke in the preceding 12 months or undated (eu: any)
    UNKNOWN = "unknown"  # conditions could not be read (partial data)


class CardiovascularAssessment(Struct, frozen=True):
    verdict: CardiovascularVerdict
    recent_events: tuple[Evidence, ...] = ()  # MI/stroke within 12 months or undated (verify)
    prior_events: tuple[Evidence, ...] = ()  # MI/stroke more than 12 months ago
    risk_factors: tuple[Evidence, ...] = ()  # diabetes, hypertension, smoking, eGFR < 30, CVD ...
    citations: tuple[str, ...] = ()
    # the eGFR < 30 among `risk_factors`: the label also asks to monitor calcium then
    severe_renal_impairment: Evidence | None = None


class RomosozumabCourse(Struct, frozen=True):
    doses_given: int  # dose-days; syringes within 7 days are one dose
    first_dose: date | None = None
    last_dose: date | None = None
    next_dose_due: date | None = None  # when mid-course
    complete: bool = False  # 12 doses given
    antiresorptive_since: bool = False  # an antiresorptive followed the last dose
    doses: tuple[Evidence, ...] = ()
    antiresorptive_ordered: bool = False  # addition: an antiresorptive is in the draft orders


class DenosumabState(StrEnum):
    NONE = "none"  # never on denosumab (60 mg products)
    CURRENT = "current"  # last dose within 6 months + 28 days
    OVERDUE = "overdue"  # beyond 6 months + 28 days, up to the long-ago limit, no follow-on
    STOPPED_LONG_AGO = "stopped-long-ago"  # beyond ~24 months: reassess, not "give the dose now"
    FOLLOWED_ON = "followed-on"  # a bisphosphonate after the last dose (or in the draft orders)


class DenosumabAssessment(Struct, frozen=True):
    state: DenosumabState
    last_dose: Evidence | None = None  # with its source ("administered", "ordered; ...")
    next_dose_due: date | None = None  # last dose + 6 months
    overdue_after: date | None = None  # last dose + 6 months + 28 days
    months_since_last_dose: int | None = None
    # and the days past those whole months: "6 months 29 days" (overdue), not "6 months" (due)
    days_past_months: int = 0
    follow_on: Evidence | None = None  # the bisphosphonate given after the last dose
    ctx_check_dates: tuple[date, ...] = ()  # 3 and 6 months after a zoledronate follow-on
    rebound_fractures: tuple[Evidence, ...] = ()  # vertebral fractures after the due date
    switch_orders: tuple[str, ...] = ()  # draft orders switching to a non-preventing agent
    citations: tuple[str, ...] = ()
    # additions (issue 4): draft romosozumab orders judged in the rebound context (Sarli 2025)
    rebound_romosozumab_orders: tuple[str, ...] = ()
    long_ago_limit: date | None = None  # last dose + ~24 months: beyond, "stopped long ago"
    # False when the latest record is a statement of ongoing use: `last_dose` is when the use
    # began and no later injection date is recorded (the cards say "no dose recorded since")
    last_dose_recorded: bool = True


class SafetyGate(Struct, frozen=True):
    """Whether a follow-on drug the cards might suggest is ruled out by this patient's data."""

    drug: str  # knowledge drug id: "zoledronic-acid", "alendronate", "denosumab", "romosozumab"
    allowed: bool
    reasons: tuple[Evidence, ...] = ()  # e.g. eGFR 25 mL/min/1.73m2 on 2026-05-01
    citations: tuple[str, ...] = ()
    # additions: allowed but with care (e.g. denosumab at eGFR < 30), and checks still to do
    cautions: tuple[Evidence, ...] = ()
    checks: tuple[str, ...] = ()  # e.g. "no eGFR within 12 months: check kidney function"
    caution_text: str | None = None  # what the cautions mean (the gate's note), when there are any


class RomosozumabDecision(StrEnum):
    PROPOSE = "propose"  # population + very high risk, no block
    CONTRAINDICATED = "contraindicated"  # cardiovascular or hypocalcemia block
    NOT_INDICATED = "not-indicated"  # outside the labelled population (man, premenopausal)
    NOT_VERY_HIGH_RISK = "not-very-high-risk"
    ALREADY_ON_COURSE = "already-on-course"  # mid-course: no new proposal, next dose due
    ON_OTHER_ANABOLIC = "on-other-anabolic"  # teriparatide or abaloparatide in use: no proposal
    COURSE_COMPLETE = "course-complete"  # 12 doses given: no more romosozumab
    INSUFFICIENT_DATA = "insufficient-data"  # would rest on the absence of data we could not read
    DECEASED = "deceased"


class OrderClass(StrEnum):
    """What a draft order is, for the hooks to react to."""

    ROMOSOZUMAB = "romosozumab"
    DENOSUMAB = "denosumab"
    BISPHOSPHONATE = "bisphosphonate"  # alendronate, risedronate, ibandronate, zoledronic acid
    WEAKER_AGENT = "weaker-agent"  # oral bisphosphonates, ibandronate, raloxifene (order-select)
    NON_PREVENTING = "non-preventing"  # teriparatide, abaloparatide, raloxifene, romosozumab
    OTHER = "other"


class ClassifiedOrder(Struct, frozen=True):
    reference: str  # the draft order's "MedicationRequest/<id>"
    drug: str | None  # knowledge drug id, None when not an osteoporosis drug
    classes: frozenset[OrderClass]
    selected: bool


class Assessment(Struct, frozen=True):
    as_of: date
    knowledge_version: str
    policy: str  # "us" | "eu"
    deceased: bool
    population: CriterionResult  # romosozumab labelled population
    very_high_risk: CriterionResult  # any of `risk_criteria` met
    risk_criteria: tuple[CriterionResult, ...]
    cardiovascular: CardiovascularAssessment
    hypocalcemia: CriterionResult  # MET = low calcium (a block); UNKNOWN = no calcium in 12 months
    romosozumab_course: RomosozumabCourse
    romosozumab_decision: RomosozumabDecision
    denosumab: DenosumabAssessment
    safety_gates: dict[str, SafetyGate] = {}  # msgspec copies an empty default per instance
    orders: tuple[ClassifiedOrder, ...] = ()
    data_gaps: tuple[str, ...] = ()  # human sentences for the card detail
    rebound_romosozumab_allowed: bool = False  # Sarli 2025 option: CV and calcium checks pass
    # Osteoporosis documented (diagnosis, fragility fracture or T-score <= -2.5), whatever the sex:
    # the very-high-risk criteria and the osteoporosis agents apply only then (AACE 2020).
    osteoporosis: Evidence | None = None
    # additions (issue 4)
    decision_reasons: tuple[str, ...] = ()  # why the decision (clinician wording)
    disabled_criteria: tuple[CriterionResult, ...] = ()  # in data but not computable (documented)
    # The latest 25-hydroxyvitamin D within the lab window, when hypocalcemia blocks romosozumab:
    # shown beside the calcium (deficiency is corrected with it), never judged (no verified
    # threshold in the research).
    vitamin_d: Evidence | None = None
    # How many Conditions no rule could read (named in `data_gaps`): "no MI or stroke found" is
    # then said of the conditions read only
    unread_conditions: int = 0
