"""The romosozumab decision, incomplete records, safety gates and order classes."""

import pytest

from service.evaluation import assess
from service.evaluation.model import OrderClass
from service.evaluation.model import RomosozumabDecision as D
from service.record.model import DataGap
from tests.evaluation.builders import (
    AS_OF,
    ICD,
    SCT,
    ago,
    calcium,
    condition,
    draft,
    obs,
    osteoporosis,
    patient,
    record,
)

RECENT_VF = condition(ICD, "M80.08XA", ago(months=3))


@pytest.mark.parametrize(
    ("items", "kwargs", "decision"),
    [
        ([RECENT_VF, calcium()], {}, D.PROPOSE),
        ([RECENT_VF], {}, D.PROPOSE),  # no calcium: propose, check before first dose
        ([RECENT_VF, calcium()], {"pat": patient(gender="male")}, D.NOT_INDICATED),
        ([RECENT_VF, calcium()], {"pat": patient(age=44)}, D.NOT_INDICATED),
        ([RECENT_VF, calcium(), condition(SCT, "76498008")], {"pat": patient(age=47)},
         D.PROPOSE),
        ([RECENT_VF, calcium()], {"pat": patient(deceased=True)}, D.DECEASED),
        ([osteoporosis(), calcium()], {}, D.NOT_VERY_HIGH_RISK),
        ([RECENT_VF, calcium(7.5)], {}, D.CONTRAINDICATED),
        ([RECENT_VF, calcium(), condition(ICD, "I21.4", ago(months=3))], {}, D.CONTRAINDICATED),
        ([RECENT_VF, calcium()], {"no_patient": True}, D.INSUFFICIENT_DATA),
        ([RECENT_VF, calcium()],
         {"gaps": (DataGap("MedicationStatement", "not supported by the FHIR server"),)},
         D.INSUFFICIENT_DATA),
        ([RECENT_VF, calcium()],
         {"gaps": (DataGap("Observation", "shown for information", partial=False),)},
         D.PROPOSE),
    ],
)
def test_decision(knowledge, items, kwargs, decision):
    assert assess(record(*items, **kwargs), AS_OF, knowledge).romosozumab_decision is decision


def test_prior_mi_proposes_with_caution_under_us_only(knowledge):
    rec = record(RECENT_VF, calcium(), condition(ICD, "I21.4", ago(months=13)))
    assert assess(rec, AS_OF, knowledge, "us").romosozumab_decision is D.PROPOSE
    assert assess(rec, AS_OF, knowledge, "eu").romosozumab_decision is D.CONTRAINDICATED


def test_unknown_policy_is_rejected(knowledge):
    with pytest.raises(KeyError):
        assess(record(), AS_OF, knowledge, "jp")


@pytest.mark.parametrize(
    ("egfr", "zol", "aln", "dmab_caution"),
    [(25, False, False, True), (34, False, False, False), (35, True, True, False)],
)
def test_safety_gates_by_egfr(knowledge, egfr, zol, aln, dmab_caution):
    rec = record(calcium(), obs("98979-8", egfr, "mL/min/{1.73_m2}", ago(months=1)))
    gates = assess(rec, AS_OF, knowledge).safety_gates
    assert gates["zoledronic-acid"].allowed is zol
    assert gates["alendronate"].allowed is aln
    assert gates["denosumab"].allowed
    assert bool(gates["denosumab"].cautions) is dmab_caution
    # what the caution means comes from the policy data (the Prolia boxed warning), for the card
    assert (gates["denosumab"].caution_text or "").startswith(
        "boxed warning: severe hypocalcemia" if dmab_caution else "")
    assert (gates["denosumab"].caution_text is None) is not dmab_caution


def test_safety_gates_block_on_hypocalcemia_and_ask_for_checks(knowledge):
    gates = assess(record(calcium(7.6)), AS_OF, knowledge).safety_gates
    assert not gates["denosumab"].allowed
    assert not gates["zoledronic-acid"].allowed
    unknown = assess(record(), AS_OF, knowledge).safety_gates
    assert unknown["zoledronic-acid"].allowed
    assert unknown["zoledronic-acid"].checks


@pytest.mark.parametrize(
    ("rxcui", "drug", "classes"),
    [
        ("2123184", "romosozumab", {OrderClass.ROMOSOZUMAB, OrderClass.NON_PREVENTING}),
        ("993452", "denosumab", {OrderClass.DENOSUMAB}),
        ("904431", "alendronate", {OrderClass.BISPHOSPHONATE, OrderClass.WEAKER_AGENT}),
        ("705824", "zoledronic-acid", {OrderClass.BISPHOSPHONATE}),
        ("1490065", "raloxifene", {OrderClass.WEAKER_AGENT, OrderClass.NON_PREVENTING}),
        ("1435117", "teriparatide", {OrderClass.NON_PREVENTING}),
        ("1046398", None, {OrderClass.OTHER}),  # Xgeva
        ("2693643", None, {OrderClass.OTHER}),  # Yorvipath
        ("197361", None, {OrderClass.OTHER}),
    ],
)
def test_order_classes(knowledge, rxcui, drug, classes):
    order = assess(record(draft(rxcui)), AS_OF, knowledge).orders[0]
    assert order.drug == drug
    assert order.classes == frozenset(classes)


def test_every_criterion_cites_known_sources(knowledge):
    result = assess(record(RECENT_VF, calcium()), AS_OF, knowledge)
    cited = [c for r in (result.population, result.very_high_risk, result.hypocalcemia,
                         *result.risk_criteria) for c in r.citations]
    cited += list(result.cardiovascular.citations)
    assert cited
    assert all(c in knowledge.citations for c in cited)
