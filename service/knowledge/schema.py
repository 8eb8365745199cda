"""Pydantic models of the knowledge data files: validation at load, nothing else."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verification = Literal["V", "V2", "V2+", "U"]
CodeSystemAlias = Literal["sct", "icd10cm", "rxnorm", "loinc", "ucum"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _DataFile(_Strict):
    """A whole data file: its optional top-level "_comment" is documentation, not data."""

    comment: str | None = Field(default=None, alias="_comment")


class CitationData(_Strict):
    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    title: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")
    verification: Verification
    statement: str | None = None


class CitationsFile(_DataFile):
    citations: list[CitationData]


class SourceData(_Strict):
    label: str
    oid: str | None = None
    verification: Verification


class CodeData(_Strict):
    system: CodeSystemAlias
    code: str = Field(min_length=1)
    display: str | None = None
    verification: Verification
    note: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class PrefixData(_Strict):
    system: CodeSystemAlias
    prefix: str = Field(min_length=2)
    verification: Verification
    note: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class ValueSetData(_Strict):
    id: str
    title: str
    sources: list[SourceData] = Field(min_length=1)
    verification: Verification
    citations: list[str] = Field(min_length=1)
    vsac: list[str] = Field(default_factory=list)
    codes: list[CodeData] = Field(default_factory=list)
    prefixes: list[PrefixData] = Field(default_factory=list)
    exclude_prefixes: list[PrefixData] = Field(default_factory=list)
    # regular expressions (case-insensitive, whole text) for answers sent as text only, with the
    # value set's own verification level
    text_patterns: list[str] = Field(default_factory=list)


class ConditionsFile(_DataFile):
    systems: dict[CodeSystemAlias, str]
    value_sets: list[ValueSetData]


class FollowUpData(_Strict):
    characters: list[str]
    verification: Verification
    note: str
    citations: list[str] = Field(min_length=1)


class FractureSiteData(_Strict):
    id: str
    label: str
    group: str
    vertebral: bool
    bone_mass_rule: Literal["any", "low-bone-mass"]
    verification: Verification
    unspecified_site: bool = False
    note: str | None = None
    codes: list[CodeData] = Field(default_factory=list)
    prefixes: list[PrefixData] = Field(default_factory=list)


class ExcludedCodeData(_Strict):
    system: CodeSystemAlias
    code: str
    note: str
    verification: Verification


class FracturesFile(_DataFile):
    citations: list[str] = Field(min_length=1)
    site_table_verification: Verification
    follow_up_seventh_characters: FollowUpData
    vsac: list[str]
    vsac_excluded_codes: list[ExcludedCodeData] = Field(default_factory=list)
    vsac_default_site: str
    sites: list[FractureSiteData] = Field(min_length=1)


class ProductData(_Strict):
    code: str
    display: str
    tty: str
    verification: Verification
    counts: bool = True


class IngredientData(_Strict):
    code: str
    display: str
    verification: Verification


DrugClass = Literal[
    "bisphosphonate", "weaker-agent", "non-preventing", "antiresorptive", "anabolic",
    "glucocorticoid", "osteoporosis-therapy",
]


class DrugData(_Strict):
    id: str
    display: str
    classes: list[DrugClass] = Field(min_length=1)
    coverage_months: int = Field(ge=1)
    verification: Verification
    citations: list[str] = Field(min_length=1)
    ingredients: list[IngredientData] = Field(min_length=1)
    products: list[ProductData]
    names: list[str] = Field(min_length=1)
    strength_counts: list[str] = Field(default_factory=list)
    strength_excluded: list[str] = Field(default_factory=list)
    excluded_names: list[str] = Field(default_factory=list)


class DrugsFile(_DataFile):
    drugs: list[DrugData]


class LoincData(_Strict):
    code: str = Field(pattern=r"^\d{1,7}-\d$")
    display: str
    verification: Verification
    site: str | None = None


class RejectedLoincData(_Strict):
    code: str
    display: str
    reason: str


class ObservationKindData(_Strict):
    id: str
    title: str
    verification: Verification
    citations: list[str] = Field(min_length=1)
    loinc: list[LoincData] = Field(min_length=1)
    rejected_loinc: list[RejectedLoincData] = Field(default_factory=list)
    local_codes: list[str] = Field(default_factory=list)
    text_patterns: list[str] = Field(default_factory=list)


class ObservationsFile(_DataFile):
    observations: list[ObservationKindData]


class ThresholdData(_Strict):
    value: float | int | list[int]
    unit: str
    verification: Verification
    citations: list[str] = Field(min_length=1)
    boundary: str
    enabled: bool = True


class OtherGuidelinesData(_Strict):
    """Where other guidelines disagree with a rule (research 1.7), shown when only such rules are
    met."""

    text: str = Field(min_length=1)
    verification: Verification
    citations: list[str] = Field(min_length=1)


class RuleData(_Strict):
    label: str
    citations: list[str] = Field(min_length=1)
    verification: Verification
    enabled: bool = True
    note: str | None = None
    other_guidelines: OtherGuidelinesData | None = None


class CvPolicyData(_Strict):
    title: str
    citations: list[str] = Field(min_length=1)
    recent_event: Literal["contraindicated", "caution"]
    prior_event: Literal["contraindicated", "caution"]
    risk_factors: Literal["contraindicated", "caution"]
    verification: Verification


class SafetyGateData(_Strict):
    drug: str
    citations: list[str] = Field(min_length=1)
    verification: Verification
    note: str
    min_egfr: float | None = None
    caution_below_egfr: float | None = None
    blocks_on_hypocalcemia: bool = False
    blocks_on_cv_contraindication: bool = False


class PlanData(_Strict):
    text: str
    citations: list[str] = Field(min_length=1)


class PolicyFile(_DataFile):
    thresholds: dict[str, ThresholdData]
    rules: dict[str, RuleData]
    cv_policies: dict[str, CvPolicyData]
    default_cv_policy: str
    safety_gates: list[SafetyGateData]
    plans: dict[str, PlanData]


class ManifestFile(_Strict):
    version: str = Field(min_length=1)
    title: str
    files: list[str]


class VsacConcept(BaseModel):
    code: str
    display: str | None = None


class VsacCompose(BaseModel):
    system: str
    concept: list[VsacConcept]


class VsacFile(BaseModel):
    """A VSAC expansion copied from the research data (unknown keys tolerated)."""

    name: str
    oid: str
    expansion: str
    compose: list[VsacCompose] = Field(min_length=1)
