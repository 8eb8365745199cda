"""MI/stroke window (12 months, inclusive), undated events, us vs eu, other risk factors."""

import msgspec
import pytest

from service.evaluation import assess
from service.evaluation.model import CardiovascularVerdict as V
from service.record.model import DataGap, DateRange, DateSource
from tests.evaluation.builders import (
    AS_OF,
    ICD,
    SCT,
    ago,
    condition,
    obs,
    record,
    smoking,
    smoking_text,
)


@pytest.mark.parametrize(
    ("system", "code", "onset", "us", "eu"),
    [
        (ICD, "I21.4", DateRange.exact(ago(months=11)), V.CONTRAINDICATED, V.CONTRAINDICATED),
        (ICD, "I21.4", DateRange.exact(ago(months=12)), V.CONTRAINDICATED, V.CONTRAINDICATED),
        (ICD, "I21.4", DateRange.exact(ago(months=12, days=1)), V.CAUTION, V.CONTRAINDICATED),
        (ICD, "I21.4", DateRange.exact(ago(months=13)), V.CAUTION, V.CONTRAINDICATED),
        (ICD, "I63.9", DateRange.exact(ago(months=6)), V.CONTRAINDICATED, V.CONTRAINDICATED),
        (SCT, "230690007", DateRange.exact(ago(years=3)), V.CAUTION, V.CONTRAINDICATED),
        # interval overlapping the window: verify date
        (ICD, "I21.9", DateRange(ago(months=14), ago(months=10), DateSource.DATE_TIME),
         V.CONTRAINDICATED, V.CONTRAINDICATED),
        (SCT, "399211009", DateRange.unknown(), V.CONTRAINDICATED, V.CONTRAINDICATED),
        (ICD, "I25.2", DateRange.unknown(), V.CONTRAINDICATED, V.CONTRAINDICATED),
        (ICD, "I69.30", DateRange.unknown(), V.CONTRAINDICATED, V.CONTRAINDICATED),
        # history code with an old upper bound: prior event
        (SCT, "275526006", DateRange.exact(ago(years=4)), V.CAUTION, V.CONTRAINDICATED),
        (ICD, "G45.9", DateRange.exact(ago(months=2)), V.CAUTION, V.CAUTION),  # TIA: not stroke
    ],
)
def test_event_verdicts(knowledge, system, code, onset, us, eu):
    rec = record(condition(system, code, onset))
    assert assess(rec, AS_OF, knowledge, "us").cardiovascular.verdict is us
    assert assess(rec, AS_OF, knowledge, "eu").cardiovascular.verdict is eu


def test_undated_event_says_verify_date(knowledge):
    cv = assess(record(condition(SCT, "399211009")), AS_OF, knowledge).cardiovascular
    assert cv.recent_events[0].note == "date uncertain: verify date"


def test_recorded_date_bounds_an_undated_event(knowledge):
    rec = record(condition(ICD, "I21.4", None, recorded=ago(years=2)))
    assert assess(rec, AS_OF, knowledge).cardiovascular.verdict is V.CAUTION


@pytest.mark.parametrize(
    "item",
    [
        condition(ICD, "E11.9"),
        condition(ICD, "I10"),
        condition(ICD, "E78.5"),
        condition(ICD, "I25.10"),
        smoking("449868002", ago(months=2)),
        obs("98979-8", 25, "mL/min/{1.73_m2}", ago(months=1)),
    ],
)
def test_risk_factors_are_caution(knowledge, item):
    cv = assess(record(item), AS_OF, knowledge).cardiovascular
    assert cv.verdict is V.CAUTION
    assert len(cv.risk_factors) == 1


@pytest.mark.parametrize(
    "item",
    [
        condition(ICD, "E11.9", status="resolved"),
        smoking("8517006", ago(months=2)),  # ex-smoker
        obs("98979-8", 30, "mL/min/{1.73_m2}", ago(months=1)),  # eGFR 30: not < 30
        obs("98979-8", 20, "mL/min/{1.73_m2}", ago(months=13)),  # too old
    ],
)
def test_not_risk_factors(knowledge, item):
    assert assess(record(item), AS_OF, knowledge).cardiovascular.verdict is V.CLEAR


def test_partial_conditions_make_clear_unknown(knowledge):
    rec = record(gaps=(DataGap("Condition", "not supported by the FHIR server"),))
    assert assess(rec, AS_OF, knowledge).cardiovascular.verdict is V.UNKNOWN


@pytest.mark.parametrize(("answer", "smoker"), [
    ("Current every day smoker", True),  # LOINC LL2201-3 displays (HL7 IPS value set)
    ("  current some day SMOKER ", True),
    ("Heavy tobacco smoker", True),
    ("Light tobacco smoker", True),
    ("Former smoker", False),
    ("Never smoker", False),
    ("Smoker, current status unknown", False),
    ("Not a current every day smoker", False),  # whole text, not a substring
])
def test_a_smoking_status_in_text_only_is_read(knowledge, answer, smoker):
    """Persona P18: "current smoker (text only)"; the EHR sent no coding."""
    cv = assess(record(smoking_text(answer, ago(months=2))), AS_OF, knowledge).cardiovascular
    assert (cv.verdict is V.CAUTION) is smoker
    if smoker:
        (factor,) = cv.risk_factors
        assert factor.description == "Current smoker (smoking status, as text)"
        assert factor.value == answer


def test_a_coded_answer_wins_over_its_text(knowledge):
    """An ex-smoker code with a contradicting text is an ex-smoker: the text is read only when
    there is no coding at all."""
    coded = smoking("8517006", ago(months=2))
    both = msgspec.structs.replace(coded, value_text="Current every day smoker")
    assert assess(record(both), AS_OF, knowledge).cardiovascular.verdict is V.CLEAR
