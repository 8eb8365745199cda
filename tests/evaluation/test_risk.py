"""Very-high-risk criteria: T-score, FRAX, older age, fracture on therapy / glucocorticoids."""

from datetime import date

import pytest

from service.evaluation import assess
from service.evaluation.model import Status
from service.record.model import Coding
from tests.evaluation.builders import (
    AS_OF,
    ICD,
    RX,
    ago,
    condition,
    med,
    obs,
    osteoporosis,
    patient,
    record,
    t_score,
)


def criterion(assessment, rule_id):
    return next(c for c in assessment.risk_criteria if c.id == rule_id)


@pytest.mark.parametrize(
    ("scores", "status"),
    [
        ([(-3.0, "38267-1", ago(months=2))], Status.NOT_MET),  # exactly -3.0: not < -3.0
        ([(-3.1, "38267-1", ago(months=2))], Status.MET),
        ([(-2.0, "38267-1", ago(months=2)), (-3.3, "38263-0", ago(months=2))], Status.MET),
        # most recent study wins over an older lower value
        ([(-3.5, "38267-1", ago(years=3)), (-2.8, "38267-1", ago(months=2))], Status.NOT_MET),
        ([(-3.5, "38266-3", ago(months=2))], Status.UNKNOWN),  # calcaneus: not valid
        ([(-3.5, "85394-5", ago(months=2))], Status.UNKNOWN),  # Z-score: never
        ([(-3.4, "80946-7", ago(months=2))], Status.MET),  # left hip
    ],
)
def test_very_low_t_score(knowledge, scores, status):
    rec = record(osteoporosis(), *(t_score(v, c, d) for v, c, d in scores))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.very-low-t-score").status is status


@pytest.mark.parametrize(
    ("code", "system", "value", "unit", "status"),
    [
        ("90265-0", "http://loinc.org", 30.0, "%", Status.NOT_MET),  # exactly 30 %
        ("90265-0", "http://loinc.org", 30.1, "%", Status.MET),
        ("90265-0", "http://loinc.org", 0.32, "1", Status.MET),  # fraction
        ("frax-mof-10y", "urn:local:frax", 32.0, "%", Status.MET),  # local code
        ("90266-8", "http://loinc.org", 4.5, "%", Status.NOT_MET),  # exactly 4.5 %
        ("90266-8", "http://loinc.org", 4.6, "%", Status.MET),
    ],
)
def test_frax(knowledge, code, system, value, unit, status):
    rec = record(osteoporosis(), obs(code, value, unit, ago(months=1), system=system))
    assert criterion(assess(rec, AS_OF, knowledge), "very-high-risk.frax").status is status


def test_frax_by_text(knowledge):
    rec = record(osteoporosis(), obs("x1", 33, "%", ago(months=1), system="urn:x",
                                     text="FRAX major osteoporotic fracture 10y"))
    assert criterion(assess(rec, AS_OF, knowledge), "very-high-risk.frax").status is Status.MET


@pytest.mark.parametrize(
    ("born", "status"),
    [
        (date(1951, 6, 15), Status.MET),  # 75th birthday on as_of
        (date(1951, 6, 16), Status.NOT_MET),  # 74 until tomorrow
        (date(1952, 1, 10), Status.NOT_MET),
    ],
)
def test_older_age_birthday(knowledge, born, status):
    rec = record(osteoporosis(), pat=patient(born=born))
    assert criterion(assess(rec, AS_OF, knowledge), "very-high-risk.older-age").status is status


def test_fracture_on_alendronate(knowledge):
    rec = record(osteoporosis(), condition(ICD, "M80.08XA", ago(months=4)),
                 med("904431", ago(years=2), "MedicationStatement", "active",
                     period_start=ago(years=2)))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.fracture-on-therapy").status is Status.MET


def test_fracture_before_therapy_is_not_on_therapy(knowledge):
    rec = record(osteoporosis(), condition(ICD, "M80.08XA", ago(months=8)),
                 med("904431", ago(months=6), "MedicationStatement", "active",
                     period_start=ago(months=6)))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.fracture-on-therapy").status is Status.NOT_MET


@pytest.mark.parametrize(("months_on", "status"), [(3, Status.MET), (2, Status.NOT_MET)])
def test_fracture_on_glucocorticoids(knowledge, months_on, status):
    start = ago(months=1 + months_on)
    rec = record(osteoporosis(), condition(ICD, "S32.000A", ago(months=1)),
                 med("", start, "MedicationStatement", "active", period_start=start,
                     text="prednisone 10 mg"))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.fracture-on-glucocorticoids").status is status


def test_multiple_risk_factors_is_documented_as_unsupported(knowledge):
    result = assess(record(osteoporosis()), AS_OF, knowledge)
    assert "very-high-risk.multiple-risk-factors" not in {c.id for c in result.risk_criteria}
    disabled = {c.id: c for c in result.disabled_criteria}
    assert "Unsupported" in disabled["very-high-risk.multiple-risk-factors"].note


def test_yorvipath_is_not_osteoporosis_therapy(knowledge):
    rec = record(osteoporosis(), condition(ICD, "M80.08XA", ago(months=4)),
                 med("2693643", ago(months=5), "MedicationStatement", "active",
                     period_start=ago(years=1)))
    assert criterion(assess(rec, AS_OF, knowledge),
                     "very-high-risk.fracture-on-therapy").status is Status.NOT_MET
    assert Coding(RX, "x").system == RX
