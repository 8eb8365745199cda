"""Every sentence a clinician reads on a card, in one place.

Change the wording here without touching a rule or the protocol. Summaries are templates that
stay under 140 characters once filled (tests fill every one with real card data and check).
The clinical statements paraphrase the sources named in `service/knowledge` citations; the
verification level of each fact is kept in the knowledge data, not repeated here.
"""

from __future__ import annotations

TOPIC_SYSTEM = "urn:osteocds:card-topic"
OVERRIDE_SYSTEM = "urn:osteocds:override-reason"

TOPIC_DISPLAY: dict[str, str] = {
    "romosozumab-proposal": "Romosozumab proposal for very high fracture risk",
    "romosozumab-cv-contraindication": "Romosozumab cardiovascular contraindication",
    "romosozumab-cv-caution": "Romosozumab cardiovascular caution",
    "romosozumab-hypocalcemia": "Romosozumab hypocalcemia contraindication",
    "romosozumab-not-indicated": "Romosozumab outside the labelled population",
    "romosozumab-course-complete": "Romosozumab course complete: antiresorptive needed",
    "romosozumab-course-progress": "Romosozumab course progress",
    "denosumab-overdue": "Denosumab dose overdue",
    "denosumab-switch": "Switch away from denosumab without rebound protection",
    "denosumab-rebound-fracture": "Vertebral fracture after denosumab discontinuation",
    "denosumab-next-dose": "Denosumab next dose",
    "denosumab-follow-on-monitoring": "Monitoring after zoledronate follow-on to denosumab",
    "very-high-risk-other-agents": "Very high fracture risk: agents indicated for this patient",
}

OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("patient-declined", "Patient declined"),
    ("already-on-alternative", "Already on alternative therapy"),
    ("cv-risk-acceptable", "Cardiovascular risk judged acceptable"),
    ("cv-risk-too-high", "Cardiovascular risk judged too high"),
    ("cost-or-coverage", "Cost or coverage"),
    ("other", "Other"),
)

# The label or guideline each topic rests on (knowledge citation ids), first = `source`.
TOPIC_CITATIONS: dict[str, tuple[str, ...]] = {
    "romosozumab-proposal": ("evenity-indication", "aace-2020", "evenity-boxed-warning"),
    "romosozumab-cv-contraindication": ("evenity-boxed-warning",),
    "romosozumab-cv-caution": ("evenity-boxed-warning", "evenity-smpc-cv-risk",
                               "endocrine-society-2020"),
    "romosozumab-hypocalcemia": ("evenity-hypocalcemia",),
    "romosozumab-not-indicated": ("evenity-indication",),
    "romosozumab-course-complete": ("evenity-limitation-12-doses",),
    "romosozumab-course-progress": ("evenity-limitation-12-doses", "evenity-boxed-warning"),
    # "ects-2021-ctx-algorithm" [U]: the zoledronate option's CTX at 3 and 6 months
    "denosumab-overdue": ("ects-2021", "prolia-mvf-warning", "lyu-2020", "cummings-2018",
                          "ects-2021-ctx-algorithm"),
    "denosumab-switch": ("ects-2021", "prolia-mvf-warning", "sarli-2025",
                         "ects-2021-ctx-algorithm"),
    "denosumab-rebound-fracture": ("ects-2021", "prolia-mvf-warning", "sarli-2025",
                                   "romosozumab-rebound-case-report", "ects-2021-ctx-algorithm"),
    "denosumab-next-dose": ("prolia-mvf-warning", "ects-2021"),
    "denosumab-follow-on-monitoring": ("ects-2021", "ects-2021-ctx-algorithm"),
    "very-high-risk-other-agents": ("aace-2020", "evenity-indication"),
}
EU_CV_CITATION = "evenity-smpc-eu"
# The proposal's rebound section (PROPOSAL_REBOUND_TEXT) rests on these
REBOUND_CONTEXT_CITATIONS = ("ects-2021", "sarli-2025", "romosozumab-rebound-case-report")

DRUG_NAMES: dict[str, str] = {
    "romosozumab": "romosozumab",
    "denosumab": "denosumab",
    "zoledronic-acid": "zoledronate",
    "alendronate": "alendronate",
    "risedronate": "risedronate",
    "ibandronate": "ibandronate",
    "raloxifene": "raloxifene",
    "teriparatide": "teriparatide",
    "abaloparatide": "abaloparatide",
}

# --- section headings of the detail (GitHub Markdown) -------------------------------------
H_CRITERIA = "**Criteria met (this patient)**"
H_EXCLUSIONS = "**Exclusions checked**"
H_PLAN = "**Plan**"
H_GAPS = "**Data not available**"
H_SOURCES = "**Sources**"
H_EVENTS = "**Events found**"
H_DENOSUMAB = "**Denosumab (this patient)**"
H_OPTIONS = "**Options**"
H_NOT_OFFERED = "**Not offered for this patient**"
H_BEFORE_ORDERING = "**Before ordering**"
H_GUIDELINES_DIFFER = "**Other guidelines differ**"

# --- summaries ------------------------------------------------------------------------------
S_PROPOSAL = "Very high fracture risk: consider romosozumab 210 mg monthly x 12"
S_PROPOSAL_INSTEAD = (
    "Very high fracture risk: consider romosozumab 210 mg monthly x 12 instead of {drug}"
)
S_CV_CAUTION = (
    "Romosozumab: MI or stroke over 12 months ago ({date}); weigh cardiovascular benefit/risk"
)
# An MI or stroke by the value set it was found in (service.evaluation.cardiovascular.EVENT_SETS)
EVENT_KIND_WORDS = {"myocardial-infarction": "MI", "stroke": "stroke", "stroke-history": "stroke"}
S_CV_CONTRA_ORDERED = "Romosozumab contraindicated: {event} ({date})"
S_CV_CONTRA_ADVISORY = "Romosozumab not advised: {event} ({date})"
S_CV_STOP = "Stop romosozumab mid-course: {event} ({date})"
S_HYPO_ORDERED = "Romosozumab contraindicated: low calcium {value}; correct before any dose"
S_HYPO_ADVISORY = "Romosozumab not advised until low calcium is corrected ({value})"
S_NOT_INDICATED = "Romosozumab not indicated: the label covers postmenopausal women only"
# The patient's own reason (evaluation `PopulationReason` values); S_NOT_INDICATED is the fallback.
S_NOT_INDICATED_BY_REASON: dict[str, str] = {
    "male": (
        "Romosozumab not indicated: the patient is a man; the label covers postmenopausal women"
    ),
    "premenopausal": (
        "Romosozumab not indicated: the patient is premenopausal; the label covers postmenopausal "
        "women"
    ),
    "no-osteoporosis": (
        "Romosozumab not indicated: no osteoporosis documented (diagnosis, fragility fracture or "
        "T-score <= -2.5)"
    ),
    "sex-unknown": "Romosozumab: labelled population not confirmed (sex not recorded as female)",
    "menopause-unknown": (
        "Romosozumab: labelled population not confirmed (menopausal status unknown)"
    ),
    "no-patient": "Romosozumab: labelled population not confirmed (no patient demographics)",
}
# Why romosozumab is not for this patient, inside OTHER_AGENTS_TEXT.
WHY_NOT_ROMOSOZUMAB: dict[str, str] = {
    "male": "a man; labelled for postmenopausal women",
    "premenopausal": "premenopausal; labelled for postmenopausal women",
    "no-osteoporosis": "no osteoporosis diagnosis, fragility fracture or T-score <= -2.5 recorded",
    "sex-unknown": "sex not recorded as female; labelled for postmenopausal women",
    "menopause-unknown": "menopausal status unknown; labelled for postmenopausal women",
    "no-patient": "no patient demographics; labelled for postmenopausal women",
}
WHY_NOT_ROMOSOZUMAB_FALLBACK = "labelled for postmenopausal women with osteoporosis"
S_COURSE_COMPLETE = "Romosozumab 12-dose course complete (last {date}): start an antiresorptive now"
S_COURSE_PROGRESS = "Romosozumab course: dose {next} of 12 due {date}"
S_COURSE_DOSE_MISSED = ("Romosozumab dose {next} of 12 overdue since {date}: "
                        "give it as soon as possible")
# EVENITY label 2.1-2.2 as the research quotes it (its section 2.1, [V2]): "Missed dose:
# administer as soon as possible, then monthly from the last dose".
PLAN_MISSED_DOSE = ("Missed dose: give it as soon as possible, then monthly from that dose "
                    "(label).")
S_DMAB_OVERDUE = "Denosumab overdue: last dose {date} ({elapsed} ago); {action}"
# What the overdue summary asks for, by the options the patient's data allows
DMAB_OVERDUE_ACTIONS = {(True, True): "give it now or start zoledronate",
                        (True, False): "give it now", (False, True): "start zoledronate",
                        (False, False): "rebound fracture risk"}
S_DMAB_OVERDUE_UNRECORDED = (
    "Denosumab: no dose recorded since {date} ({elapsed} ago); {action}"
)
S_DMAB_SWITCH = (
    "Stopping denosumab for {drug}: an antiresorptive is needed to prevent rebound bone loss"
)
S_REBOUND = "Vertebral fracture after missed denosumab dose ({date}): treat the rebound promptly"
S_NEXT_DOSE = "Denosumab next dose due {date}; do not stop without follow-on therapy"
S_DOSE_DUE_SINCE = (
    "Denosumab dose due since {date}: give it by {by}; do not stop without follow-on therapy"
)
S_FOLLOW_ON = "After zoledronate ({date}): check CTX on {first} and {second}"
S_OTHER_AGENTS = "Very high fracture risk: consider {agents}"

# --- fixed phrases ---------------------------------------------------------------------------
RECORDED_ON = "recorded on {date}"
VERIFY_DATE = "no onset date recorded: verify date"
DATE_UNKNOWN = "date unknown"
ANTIRESORPTIVE_FALLBACK = "an antiresorptive that kidney function and calcium allow"

ROMOSOZUMAB_REGIMEN = (
    "Romosozumab 210 mg subcutaneously once monthly, given as two separate 105 mg/1.17 mL "
    "prefilled-syringe injections one after the other by a healthcare provider, for 12 "
    "monthly doses."
)
PLAN_AFTER_COURSE = (
    "After the 12th dose, continue with an antiresorptive ({agents}): the anabolic effect wanes "
    "after 12 doses."
)
PLAN_CALCIUM = "Supplement calcium and vitamin D before and during treatment."
PLAN_BOXED_WARNING = (
    "Boxed warning: romosozumab may increase the risk of myocardial infarction, stroke and "
    "cardiovascular death; do not start within a year of an MI or stroke, and stop it if one "
    "occurs."
)
PLAN_CV_RISK_FACTORS = (
    "Other cardiovascular risk factors present: weigh the benefit against the cardiovascular risk."
)
CV_CLEAR = "No myocardial infarction or stroke found in the record."
CV_CLEAR_READABLE = ("No myocardial infarction or stroke found among the conditions osteocds "
                     "could read (see Data not available).")
CV_UNKNOWN = "Cardiovascular history could not be read completely: check before ordering."
CV_PRIOR = "Myocardial infarction or stroke more than 12 months ago (caution, US label):"
CV_RECENT = "Myocardial infarction or stroke within 12 months or undated (contraindication):"
HYPO_OK = "Calcium not low."
HYPO_UNKNOWN = "No serum calcium in the past 12 months: check calcium before the first dose."
HYPO_UNJUDGED = "Calcium could not be judged: check calcium before the first dose."
HYPO_LOW = "Low calcium (contraindication):"
VITAMIN_D_SHOWN = "not graded: osteocds holds no verified deficiency threshold"
COURSE_NONE = "No previous romosozumab course found."
COURSE_DOSES = "Romosozumab doses already given: {doses} of 12."

CV_CAUTION_TEXT = (
    "The US label advises weighing benefit against risk in patients with cardiovascular risk "
    "factors; an MI or stroke more than a year ago is not a label contraindication, but the "
    "Endocrine Society and the EU label exclude any prior MI or stroke."
)
CV_CONTRA_TEXT = (
    "Romosozumab should not be initiated within a year of a myocardial infarction or stroke "
    "(boxed warning)."
)
CV_UNDATED_TEXT = "An event with no recorded date is treated as recent until its date is verified."
CV_DOSES_AFTER_EVENT = ("Doses given after the event ({event}): {count} ({dates}): review them "
                        "with the patient's cardiologist.")
CV_STOP_TEXT = (
    "The patient is on a romosozumab course (below). If a myocardial infarction or stroke "
    "occurs during therapy, romosozumab should be discontinued (boxed warning): do not give the "
    "next dose, and plan the antiresorptive that follows romosozumab."
)
CV_CONTRA_EU_TEXT = (
    "Under the EU policy any prior myocardial infarction or stroke excludes romosozumab."
)
# After a criterion whose rule the research does not verify (the sources list says why)
UNVERIFIED_MARK = " [U: unverified rule]"
PLAN_MONITOR_CALCIUM_RENAL = (
    "Severe renal impairment (eGFR {egfr}): monitor serum calcium during treatment (EVENITY US "
    "label 5.3)."
)
ALTERNATIVES_ROMOSOZUMAB = ("teriparatide", "abaloparatide", "denosumab", "zoledronic-acid")
# On or just off denosumab, only an antiresorptive prevents the rebound (ECTS 2021, research 3.3;
# Sarli 2025: "guidelines recommend retreatment with denosumab or administration of zoledronate")
ALTERNATIVES_AFTER_DENOSUMAB = ("denosumab", "zoledronic-acid")
# A romosozumab course stopped early is followed by an antiresorptive, as a completed one is
# (EVENITY US label 1.2: "continued therapy with an anti-resorptive agent should be considered")
ALTERNATIVES_AFTER_ROMOSOZUMAB = ("alendronate", "zoledronic-acid", "denosumab")
HYPO_TEXT = (
    "Hypocalcemia is a contraindication to romosozumab: correct calcium (and any vitamin D "
    "deficiency) and recheck before the first dose."
)
NOT_INDICATED_TEXT = (
    "Romosozumab (EVENITY) is indicated in the US and EU for postmenopausal women with "
    "osteoporosis at high risk of fracture."
)
NOT_INDICATED_MEN_TEXT = "Approvals for men exist in Japan, South Korea and Australia only."
OTHER_AGENTS_TEXT = (
    "Romosozumab is not indicated for this patient ({why}); agents indicated for very high "
    "fracture risk:"
)
COURSE_COMPLETE_TEXT = (
    "The anabolic effect of romosozumab wanes after 12 monthly doses; the label limits use to 12 "
    "doses and advises continuing with an antiresorptive."
)
DMAB_REBOUND_TEXT = (
    "After a missed denosumab dose, bone resorption rebounds and multiple vertebral fractures can "
    "occur from about 7 months after the last dose."
)
DMAB_OVERDUE_OPTIONS_TEXT = (
    "ECTS 2021 starts an alternative antiresorptive 6 months after the last denosumab injection; "
    "that date has passed, so act now:"
)
DMAB_OPTION_DOSE = "Give the overdue denosumab 60 mg dose now and keep to 6-monthly dosing."
DMAB_OPTION_ZOL = ("Zoledronate 5 mg IV now, then CTX at 3 and 6 months; repeat if above the "
                   "premenopausal reference range [U].")
DMAB_OPTION_SPINE = "Consider spine imaging if there is back pain or height loss."
DMAB_SWITCH_TEXT = (
    "When denosumab is stopped, ECTS 2021 recommends an alternative antiresorptive 6 months after "
    "the last injection; guidelines name denosumab retreatment or zoledronate (as summarised by "
    "Sarli 2025). Give denosumab on time, or denosumab or zoledronate when moving away from it. "
    "osteocds counts teriparatide, abaloparatide, romosozumab and raloxifene as not preventing "
    "the rebound: a classification of this service, not a guideline statement [U]."
)
REBOUND_GUIDELINE_TEXT = (
    "Guideline-recommended (ECTS 2021): {options}, to reduce the high bone turnover."
)
REBOUND_OPTION_DENOSUMAB = "restart denosumab promptly"
REBOUND_OPTION_ZOLEDRONATE = "zoledronate"
REBOUND_NO_GUIDELINE_OPTION = (
    "The guideline options (denosumab, zoledronate) are ruled out by this patient's data (see "
    "below): seek specialist advice."
)
H_AFTER_DENOSUMAB = "**After denosumab (rebound fractures)**"
PROPOSAL_REBOUND_TEXT = (
    "Vertebral fractures followed a missed denosumab dose ({date}). Guidelines recommend "
    "denosumab retreatment or zoledronate first (ECTS 2021; Sarli 2025); for romosozumab here the "
    "evidence is a four-patient case series (Sarli 2025), and a case report describes new "
    "vertebral fractures despite it. The romosozumab order is therefore not marked as recommended."
)
REBOUND_ROMO_TEXT = (
    "Romosozumab may be considered for selected patients: Sarli et al., JBMR Plus 2025 "
    "(doi 10.1093/jbmrpl/ziaf186), a four-patient uncontrolled case series with no new clinical "
    "fractures during follow-up. A case report describes new vertebral fractures despite "
    "romosozumab after denosumab discontinuation. Cardiovascular and calcium checks passed."
)
REBOUND_ROMO_BLOCKED = (
    "Romosozumab (case-series evidence) is not offered: the labelled population, the "
    "cardiovascular and calcium checks, complete data and no completed course are all required."
)
REBOUND_ROMO_RULED_OUT = "Romosozumab (case-series evidence): not offered (reason below)."
NEXT_DOSE_TEXT = (
    "If denosumab is to be stopped, plan an antiresorptive follow-on ({agents}) at the due date; "
    "do not stop or delay without one."
)
FOLLOW_ON_TEXT = (
    "After zoledronate follow-on to denosumab, measure CTX about 3 and 6 months after the "
    "infusion (the ECTS 2021 algorithm as reviews summarise it; its timing was not read in the "
    "guideline text [U])."
)
FOLLOW_ON_REPEAT = ("If CTX rises above the premenopausal reference range, repeat zoledronate "
                    "[U].")
# In the order note of a zoledronate given after denosumab (never after romosozumab)
ZOLEDRONATE_AFTER_DENOSUMAB_NOTE = "Measure CTX 3 and 6 months after the infusion [U]."
COURSE_COMPLETE_PLAN = "Start {agents} now."
COURSE_COMPLETE_DENOSUMAB = "Denosumab is an alternative."

# --- suggestion labels ------------------------------------------------------------------------
L_ORDER_ROMOSOZUMAB = "Order romosozumab 210 mg SC monthly x 12 (draft)"
L_REPLACE_WITH_ROMOSOZUMAB = "Replace the {drug} order with romosozumab 210 mg SC monthly x 12"
L_REMOVE_ROMOSOZUMAB = "Remove the romosozumab order"
L_REMOVE_ORDER = "Remove the {drug} order"
L_ORDER_DENOSUMAB = "Order denosumab 60 mg SC now (draft)"
L_ORDER_ZOLEDRONATE = "Order zoledronic acid 5 mg IV once (draft)"
L_ORDER_ALENDRONATE = "Order alendronate 70 mg orally once weekly (draft)"
L_REPLACE_WITH = "Replace the {drug} order with {other}"
