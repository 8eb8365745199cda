"""Hypocalcemia: reference range, flag, unit lower limit, albumin adjustment, diagnosis."""

import pytest

from service.evaluation import assess
from service.evaluation.model import Status
from tests.evaluation.builders import AS_OF, ICD, ago, calcium, condition, obs, record


@pytest.mark.parametrize(
    ("items", "status"),
    [
        ([calcium(7.9)], Status.MET),
        ([calcium(8.3)], Status.NOT_MET),  # label LLN 8.3: strict
        ([calcium(8.2)], Status.MET),
        ([calcium(8.4, low=8.5)], Status.MET),  # lab reference range wins
        ([calcium(8.2, low=8.0)], Status.NOT_MET),
        ([calcium(8.6, interpretation=("L",))], Status.MET),  # flagged low
        ([obs("2000-8", 2.0, "mmol/L", ago(months=1))], Status.MET),
        ([obs("2000-8", 2.3, "mmol/L", ago(months=1))], Status.NOT_MET),
        ([obs("47596-2", 0.9, "mmol/L", ago(months=1))], Status.UNKNOWN),  # ionized: ignored
        ([calcium(7.9, day=ago(months=13))], Status.UNKNOWN),  # older than 12 months
        ([calcium(9.4, day=ago(months=13)), calcium(9.0, day=ago(months=12))], Status.NOT_MET),
        ([], Status.UNKNOWN),
        ([condition(ICD, "E83.51"), calcium(9.0)], Status.MET),
        ([condition(ICD, "E83.51", status="resolved"), calcium(9.0)], Status.NOT_MET),
        # latest wins: corrected since
        ([calcium(7.9, day=ago(months=3)), calcium(9.1, day=ago(months=1))], Status.NOT_MET),
    ],
)
def test_hypocalcemia(knowledge, items, status):
    assert assess(record(*items), AS_OF, knowledge).hypocalcemia.status is status


def test_no_calcium_says_check_before_first_dose(knowledge):
    result = assess(record(), AS_OF, knowledge).hypocalcemia
    assert "check calcium before the first dose" in result.note


@pytest.mark.parametrize(
    ("albumin_day", "status", "note"),
    [
        (ago(months=1, days=2), Status.NOT_MET, "albumin-adjusted"),  # 8.1 + 0.8*(4-3)= 8.9
        (ago(months=2), Status.MET, "not adjusted"),  # albumin too far apart
    ],
)
def test_albumin_adjustment(knowledge, albumin_day, status, note):
    rec = record(calcium(8.1, day=ago(months=1)), obs("1751-7", 3.0, "g/dL", albumin_day))
    result = assess(rec, AS_OF, knowledge).hypocalcemia
    assert result.status is status
    assert note in result.evidence[0].note


@pytest.mark.parametrize(
    ("items", "shown"),
    [
        # low calcium: the newest 25-OH-D within 12 months, whichever of the three codes
        ([calcium(7.9), obs("62292-8", 12, "ng/mL", ago(months=2))], "12 ng/mL"),
        ([calcium(7.9), obs("62292-8", 12, "ng/mL", ago(months=4)),
          obs("1989-3", 31, "ng/mL", ago(months=1))], "31 ng/mL"),
        ([calcium(7.9), obs("14635-7", 30, "nmol/L", ago(months=1))], "30 nmol/L"),
        ([condition(ICD, "E83.51"), calcium(9.0), obs("62292-8", 9, "ng/mL", ago(months=1))],
         "9 ng/mL"),
        ([calcium(7.9), obs("62292-8", 12, "ng/mL", ago(months=13))], None),  # too old
        ([calcium(7.9)], None),
        # calcium not low: vitamin D is not the service's business (nothing shown)
        ([calcium(9.4), obs("62292-8", 12, "ng/mL", ago(months=1))], None),
        ([obs("62292-8", 12, "ng/mL", ago(months=1))], None),
    ],
)
def test_vitamin_d_is_shown_beside_low_calcium_only(knowledge, items, shown):
    vitamin_d = assess(record(*items), AS_OF, knowledge).vitamin_d
    if shown is None:
        assert vitamin_d is None
    else:
        assert vitamin_d is not None
        assert vitamin_d.value == shown
        assert vitamin_d.description == "25-hydroxyvitamin D"
