"""Hand-built `Assessment` objects for card tests, so cards are tested apart from the evaluation.

`assessment(**changes)` starts from a proposable patient (P01-like: woman 72, recent vertebral
fracture on alendronate, T-score -3.2, calcium normal, no CV history) and applies changes.
"""

from __future__ import annotations

import itertools
from datetime import date
from types import SimpleNamespace
from typing import Any

import msgspec

from service.evaluation.model import (
    Assessment,
    CardiovascularAssessment,
    CardiovascularVerdict,
    ClassifiedOrder,
    CriterionResult,
    DenosumabAssessment,
    DenosumabState,
    Evidence,
    OrderClass,
    RomosozumabCourse,
    RomosozumabDecision,
    SafetyGate,
    Status,
)
from service.record.model import DateRange, DateSource, PatientRecord

AS_OF = date(2026, 6, 15)
PATIENT_ID = "pat-1"

CITATIONS = {
    "evenity-label": SimpleNamespace(
        label="EVENITY (romosozumab-aqqg) US prescribing information",
        url="https://api.fda.gov/drug/label.json?search=openfda.generic_name:%22romosozumab%22"),
    "aace-2020": SimpleNamespace(label="AACE/ACE 2020 postmenopausal osteoporosis guideline",
                                 url="https://doi.org/10.4158/GL-2020-0524SUPPL"),
    "ects-2021": SimpleNamespace(label="ECTS 2021 denosumab discontinuation",
                                 url="https://doi.org/10.1210/clinem/dgaa756"),
    "zoledronic-acid-label": SimpleNamespace(label="Reclast label, renal", url=None),
    "prolia-boxed-warning": SimpleNamespace(label="PROLIA US label, boxed warning", url=None),
}
KNOWLEDGE = SimpleNamespace(citations=CITATIONS, version="test-1")


def day(text: str) -> DateRange:
    return DateRange.exact(date.fromisoformat(text))


def recorded(text: str) -> DateRange:
    return DateRange(None, date.fromisoformat(text), DateSource.RECORDED)


def ev(description: str, when: str | DateRange | None = None, value: str | None = None,
       note: str | None = None, reference: str | None = None, kind: str | None = None
       ) -> Evidence:
    rng = day(when) if isinstance(when, str) else when
    return Evidence(description=description, reference=reference, when=rng, value=value,
                    note=note, kind=kind)


def met(cid: str, label: str, *evidence: Evidence, citations: tuple[str, ...] = ("aace-2020",)
        ) -> CriterionResult:
    return CriterionResult(cid, label, Status.MET, evidence, citations)


POPULATION = met("population", "Postmenopausal woman with osteoporosis",
                 ev("Sex", value="female"), ev("Age", value="72 years"),
                 ev("Osteoporosis (SNOMED 102447009)", "2024-05-01"),
                 citations=("evenity-label",))
RECENT_FRACTURE = met("very-high-risk.recent-fracture", "Fracture within the past 12 months",
                      ev("Vertebral fracture (ICD-10-CM M80.08XA)", "2026-02-10",
                         reference="Condition/fx1"))
LOW_T = met("very-high-risk.t-score", "T-score below -3.0",
            ev("Lumbar spine T-score", "2026-03-01", value="-3.2"))
CALCIUM_OK = CriterionResult("hypocalcemia", "Low calcium", Status.NOT_MET,
                             (ev("Calcium", "2026-05-20", value="9.4 mg/dL"),), ("evenity-label",))


def base() -> Assessment:
    return Assessment(
        as_of=AS_OF,
        knowledge_version="test-1",
        policy="us",
        deceased=False,
        population=POPULATION,
        very_high_risk=met("very-high-risk", "Very high fracture risk", citations=("aace-2020",)),
        risk_criteria=(RECENT_FRACTURE, LOW_T),
        cardiovascular=CardiovascularAssessment(CardiovascularVerdict.CLEAR,
                                                citations=("evenity-label",)),
        hypocalcemia=CALCIUM_OK,
        romosozumab_course=RomosozumabCourse(doses_given=0),
        romosozumab_decision=RomosozumabDecision.PROPOSE,
        denosumab=DenosumabAssessment(DenosumabState.NONE),
        safety_gates={d: SafetyGate(d, True) for d in
                      ("romosozumab", "denosumab", "zoledronic-acid", "alendronate")},
        data_gaps=(),
        osteoporosis=ev("Osteoporosis diagnosis (M81.0)", "2024-01-10"),
    )


def assessment(**changes: Any) -> Assessment:
    return msgspec.structs.replace(base(), **changes)


def order(reference: str, drug: str, *classes: OrderClass, selected: bool = True
          ) -> ClassifiedOrder:
    return ClassifiedOrder(reference, drug, frozenset(classes), selected)


ALENDRONATE_ORDER = order("MedicationRequest/draft-aln", "alendronate",
                          OrderClass.WEAKER_AGENT, OrderClass.BISPHOSPHONATE)
ROMOSOZUMAB_ORDER = order("MedicationRequest/draft-romo", "romosozumab", OrderClass.ROMOSOZUMAB)
TERIPARATIDE_ORDER = order("MedicationRequest/draft-teri", "teriparatide",
                           OrderClass.NON_PREVENTING)

MI_RECENT = ev("Acute myocardial infarction (ICD-10-CM I21.4)", "2025-07-15",
               reference="Condition/mi", kind="myocardial-infarction")
MI_OLD = ev("Acute myocardial infarction (SNOMED 22298006)", "2025-05-15",
            reference="Condition/mi", kind="myocardial-infarction")
MI_UNDATED = ev("History of myocardial infarction (SNOMED 399211009)", DateRange.unknown(),
                kind="myocardial-infarction")

CV_CONTRAINDICATED = CardiovascularAssessment(CardiovascularVerdict.CONTRAINDICATED,
                                              recent_events=(MI_RECENT,),
                                              citations=("evenity-label",))
CV_CAUTION = CardiovascularAssessment(CardiovascularVerdict.CAUTION, prior_events=(MI_OLD,),
                                      citations=("evenity-label",))
HYPOCALCEMIA = CriterionResult("hypocalcemia", "Low calcium", Status.MET,
                               (ev("Calcium", "2026-06-01", value="7.9 mg/dL",
                                   note="not albumin-adjusted"),), ("evenity-label",))
RENAL_GATE = (ev("eGFR", "2026-05-01", value="25 mL/min/1.73m2"),)
DENOSUMAB_RENAL_CAUTION = "boxed warning: severe hypocalcemia with eGFR < 30"


def renal_blocked() -> dict[str, SafetyGate]:
    return {
        "romosozumab": SafetyGate("romosozumab", True),
        "denosumab": SafetyGate("denosumab", True, citations=("prolia-boxed-warning",),
                                cautions=RENAL_GATE, caution_text=DENOSUMAB_RENAL_CAUTION),
        "zoledronic-acid": SafetyGate("zoledronic-acid", False, RENAL_GATE,
                                      ("zoledronic-acid-label",)),
        "alendronate": SafetyGate("alendronate", False, RENAL_GATE, ("zoledronic-acid-label",)),
    }


def denosumab_overdue() -> DenosumabAssessment:
    return DenosumabAssessment(
        DenosumabState.OVERDUE,
        last_dose=ev("Denosumab 60 mg", "2025-10-15", note="administered",
                     reference="MedicationAdministration/d1"),
        next_dose_due=date(2026, 4, 15), overdue_after=date(2026, 5, 13),
        months_since_last_dose=8, citations=("ects-2021",))


def record(orders: tuple[Any, ...] = ()) -> PatientRecord:
    return PatientRecord(patient_id=PATIENT_ID, patient=None)


def counter_uuids() -> Any:
    """A deterministic uuid factory: 00000000-0000-4000-8000-000000000001, ..."""
    numbers = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(numbers):012d}"
