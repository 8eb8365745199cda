"""Generated templates: the ~50-resource patient (`x02`) and the heavy benchmark patient.

Both are deterministic functions of their arguments (no randomness, no clock), built from the same
shorthand as the JSON personas and the same allow-listed codes. Clinically both are a 74-year-old
woman with osteoporosis, a vertebral fracture 3 months ago (problem list + encounter diagnoses +
follow-up 'D' codes), hypertension and type 2 diabetes, normal calcium: romosozumab is proposed and
the cardiovascular verdict is "caution" (risk factors, no MI or stroke).
"""

from __future__ import annotations

from typing import Any

MID_SIZE_ID = "x02"
HEAVY_ID = "heavy"
HEAVY_MIN_RESOURCES = 20

_TEXT_ONLY_CONDITIONS = (
    "Osteoarthritis of knee",
    "Cataract",
    "Gastro-oesophageal reflux disease",
    "Hypothyroidism",
    "Seasonal allergic rhinitis",
    "Chronic low back pain",
    "Insomnia",
    "Varicose veins",
)
_TSCORE = {
    "ls": ("loinc:38267-1", "DXA lumbar spine T-score"),
    "fn": ("loinc:38263-0", "DXA femoral neck T-score"),
    "th": ("loinc:38264-8", "DXA total hip T-score"),
}
_BMD = {
    "ls": ("loinc:24966-4", "DXA lumbar spine BMD"),
    "th": ("loinc:38261-4", "DXA total hip BMD"),
}


def _d(**offset: int) -> dict[str, int]:
    return offset


def _year(**offset: int) -> dict[str, Any]:
    return {"offset": offset, "precision": "year"}


def _condition(key: str, codes: list[str], text: str, onset: Any, **extra: Any) -> dict[str, Any]:
    spec = {
        "key": key,
        "type": "Condition",
        "codes": codes,
        "text": text,
        "onset": onset,
        "category": "problem-list-item",
    }
    spec.update(extra)
    return spec


def _observation(
    key: str, code: str, text: str, when: Any, value: float, unit: str, **extra: Any
) -> dict[str, Any]:
    spec = {
        "key": key,
        "type": "Observation",
        "codes": [code],
        "text": text,
        "effective": when,
        "value": [value, unit],
        "category": "laboratory",
    }
    spec.update(extra)
    return spec


def _core_conditions() -> list[dict[str, Any]]:
    fracture = _d(months=-3, days=-2)
    return [
        _condition("osteoporosis", ["sct:64859006", "icd:M81.0"], "Osteoporosis", _year(years=-5)),
        _condition(
            "fx-vertebral", ["sct:240198002", "icd:M80.08XA"], "Osteoporotic T11 fracture", fracture
        ),
        _condition(
            "fx-vertebral-enc",
            ["icd:M80.08XA"],
            "T11 fracture",
            fracture,
            category="encounter-diagnosis",
        ),
        _condition(
            "fx-vertebral-fu1",
            ["icd:M80.08XD"],
            "T11 fracture, follow-up",
            _d(months=-2, days=-2),
            category="encounter-diagnosis",
        ),
        _condition(
            "fx-vertebral-fu2",
            ["icd:M80.08XD"],
            "T11 fracture, follow-up",
            _d(months=-1, days=-2),
            category="encounter-diagnosis",
        ),
        _condition(
            "fx-radius-old",
            ["icd:S52.501A"],
            "Distal radius fracture (old)",
            _d(years=-7, months=-2),
            category="encounter-diagnosis",
        ),
        _condition("hypertension", ["icd:I10"], "Essential hypertension", _year(years=-14)),
        _condition("diabetes", ["icd:E11.9"], "Type 2 diabetes mellitus", _year(years=-9)),
    ]


def _text_condition(index: int) -> dict[str, Any]:
    text = _TEXT_ONLY_CONDITIONS[index % len(_TEXT_ONLY_CONDITIONS)]
    return _condition(f"other-{index + 1:03d}", [], text, _year(years=-(2 + index % 20)))


def _dxa_study(index: int, when: Any, lumbar: float) -> list[dict[str, Any]]:
    """One DXA study: T-scores at three sites and BMD at two (6 observations)."""
    out = []
    for site, delta in (("ls", 0.0), ("fn", 0.3), ("th", 0.5)):
        code, text = _TSCORE[site]
        out.append(
            _observation(
                f"dxa{index}-{site}",
                code,
                text,
                when,
                round(lumbar + delta, 1),
                "{T-score}",
                category="imaging",
            )
        )
    for site, bmd in (("ls", 0.78), ("th", 0.66)):
        code, text = _BMD[site]
        out.append(
            _observation(
                f"dxa{index}-{site}-bmd",
                code,
                text,
                when,
                round(bmd + lumbar / 50, 3),
                "g/cm2",
                category="imaging",
            )
        )
    return out


def _lab_panel(index: int, when: Any) -> list[dict[str, Any]]:
    """Calcium, albumin, vitamin D and eGFR on one date (4 observations)."""
    return [
        _observation(
            f"calcium-{index}",
            "loinc:17861-6",
            "Calcium, serum",
            when,
            9.3 + (index % 3) / 10,
            "mg/dL",
            ref_low=8.5,
            ref_high=10.5,
        ),
        _observation(
            f"albumin-{index}",
            "loinc:1751-7",
            "Albumin, serum",
            when,
            4.0,
            "g/dL",
            ref_low=3.5,
            ref_high=5.0,
        ),
        _observation(
            f"vitamin-d-{index}",
            "loinc:62292-8",
            "25-hydroxyvitamin D, total",
            when,
            30 + index % 7,
            "ng/mL",
            ref_low=30,
            ref_high=100,
        ),
        _observation(
            f"egfr-{index}",
            "loinc:98979-8",
            "eGFR (CKD-EPI 2021)",
            when,
            72 - index % 5,
            "mL/min/{1.73_m2}",
        ),
    ]


def _smoking(key: str, when: Any) -> dict[str, Any]:
    return {
        "key": key,
        "type": "Observation",
        "codes": ["loinc:72166-2"],
        "text": "Tobacco smoking status",
        "effective": when,
        "category": "social-history",
        "value_codes": ["sct:8517006"],
        "value_text": "Former smoker",
    }


def _patient(persona_id: str, family: str) -> dict[str, Any]:
    return {
        "gender": "female",
        "birth": _d(years=-74, months=-5, days=-9),
        "name": {"use": "official", "family": family, "given": ["Olive"]},
    }


def mid_size_template() -> dict[str, Any]:
    """x02: Patient + 15 Conditions + 34 Observations (the issue 8 benchmark body)."""
    conditions = _core_conditions() + [_text_condition(i) for i in range(7)]
    observations: list[dict[str, Any]] = []
    for index, years_ago in enumerate((0, 2, 4, 6)):
        when = _d(months=-2, days=-10) if years_ago == 0 else _d(years=-years_ago, months=-2)
        observations += _dxa_study(index, when, -2.9 + index * 0.1)
    for index, months_ago in enumerate((1, 7, 13)):
        observations += _lab_panel(index, _d(months=-months_ago, days=-4))
    observations += [_smoking("smoking-1", _d(months=-2)), _smoking("smoking-2", _d(years=-2))]
    return {
        "id": MID_SIZE_ID,
        "kind": "volume",
        "title": "About 50 resources (Patient + 15 Conditions + 34 Observations)",
        "description": "74-year-old woman with a recent vertebral fracture recorded 4 ways, "
        "hypertension, diabetes and 4 DXA studies: propose with cardiovascular caution.",
        "source": "issue 8 (benchmark body: Patient, 15 Conditions, 34 Observations)",
        "patient": _patient(MID_SIZE_ID, "Mercer"),
        "resources": conditions + observations,
    }


def heavy_template(n_resources: int) -> dict[str, Any]:
    """A patient with exactly `n_resources` resources (Patient included), deterministic.

    The recent clinical picture is the mid-size patient's; the rest is history older than 13 months
    (weekly lab panels, yearly DXA studies, completed alendronate requests, uncoded conditions), so
    the expected outcome does not depend on `n_resources`.
    """
    if n_resources < HEAVY_MIN_RESOURCES:
        raise ValueError(f"n_resources must be at least {HEAVY_MIN_RESOURCES}")
    core = _core_conditions() + _dxa_study(0, _d(months=-2, days=-10), -2.9)
    core += [*_lab_panel(0, _d(months=-1, days=-4)), _smoking("smoking-1", _d(months=-2))]
    history = _history(n_resources - 1 - len(core))
    return {
        "id": HEAVY_ID,
        "kind": "volume",
        "title": f"Heavy patient ({n_resources} resources)",
        "description": "Benchmark patient: the mid-size picture plus years of history.",
        "source": "issue 8 (500-resource patient)",
        "patient": _patient(HEAVY_ID, "Harrow"),
        "resources": core + history,
    }


def _history(count: int) -> list[dict[str, Any]]:
    """`count` historical resources, all dated 13 months or more before as_of."""
    out: list[dict[str, Any]] = []
    step = 0
    while len(out) < count:
        kind = step % 10
        when = _d(months=-13, days=-7 * step)
        if kind in (0, 1, 2, 3, 4, 5):
            out.append(_lab_panel(step, when)[kind % 4])
            out[-1] = dict(out[-1], key=f"hist-{step:04d}")
        elif kind == 6:
            out.append(_text_condition(step))
        elif kind == 7:
            out.append(
                {
                    "key": f"hist-{step:04d}",
                    "type": "MedicationRequest",
                    "med": ["rx:904419"],
                    "text": "Alendronic acid 10 MG Oral Tablet",
                    "status": "completed",
                    "intent": "order",
                    "authored": when,
                }
            )
        else:
            dxa = _dxa_study(step, _d(years=-2, days=-7 * step), -2.6)[kind % 2]
            out.append(dict(dxa, key=f"hist-{step:04d}"))
        step += 1
    return out
