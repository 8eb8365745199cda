"""The loaded knowledge: citations, compiled terminology lookups and policy.

Built once by `service.knowledge.load_knowledge()`; every lookup table (dict by (system, code),
prefix lists sorted longest first) is compiled at construction so evaluation does no parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from service.knowledge import schema
from service.knowledge.matches import CodeMatch, DrugMatch, FractureMatch, ObservationMatch
from service.record.model import Coding

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    label: str
    title: str
    url: str | None
    verification: str
    statement: str | None = None


@dataclass(frozen=True, slots=True)
class Threshold:
    id: str
    value: Any
    unit: str
    verification: str
    citations: tuple[str, ...]
    boundary: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class OtherGuidelines:
    """Where other guidelines disagree with a rule, with its sources and verification level."""

    text: str
    verification: str
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    label: str
    citations: tuple[str, ...]
    verification: str
    enabled: bool = True
    note: str | None = None
    other_guidelines: OtherGuidelines | None = None


@dataclass(frozen=True, slots=True)
class CvPolicy:
    id: str
    title: str
    citations: tuple[str, ...]
    recent_event: str
    prior_event: str
    risk_factors: str


@dataclass(frozen=True, slots=True)
class SafetyGateRule:
    drug: str
    citations: tuple[str, ...]
    verification: str
    note: str
    min_egfr: float | None
    caution_below_egfr: float | None
    blocks_on_hypocalcemia: bool
    blocks_on_cv_contraindication: bool


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    text: str
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Drug:
    id: str
    display: str
    classes: frozenset[str]
    coverage_months: int
    citations: tuple[str, ...]
    verification: str


@dataclass(frozen=True, slots=True)
class FractureSite:
    id: str
    label: str
    group: str
    vertebral: bool
    bone_mass_rule: str
    unspecified_site: bool
    verification: str


def normalize_code(system: str | None, code: str) -> str:
    """ICD-10-CM codes compare without the dot and in upper case; others as sent (trimmed)."""
    code = code.strip()
    if system == ICD10CM:
        return code.replace(".", "").upper()
    return code


def _strength_pattern(strength: str) -> re.Pattern[str]:
    escaped = re.escape(strength.upper()).replace(r"\ ", r"\s*")
    return re.compile(r"(?<![\d.])" + escaped + r"(?![\w])")


MEMO_LIMIT = 20_000  # distinct codings remembered per lookup (a few MB at most)


def _other_guidelines(data: schema.OtherGuidelinesData | None) -> OtherGuidelines | None:
    if data is None:
        return None
    return OtherGuidelines(data.text, data.verification, tuple(data.citations))


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) < MEMO_LIMIT:
        memo[key] = value


class Knowledge:
    """Validated knowledge with precompiled lookups; build with `load_knowledge()`."""

    def __init__(
        self,
        manifest: schema.ManifestFile,
        citations: schema.CitationsFile,
        conditions: schema.ConditionsFile,
        fractures: schema.FracturesFile,
        drugs: schema.DrugsFile,
        observations: schema.ObservationsFile,
        policy: schema.PolicyFile,
        vsac: Mapping[str, schema.VsacFile],
    ) -> None:
        self.version: str = manifest.version
        self.citations: Mapping[str, Citation] = MappingProxyType({
            c.id: Citation(c.id, c.label, c.title, c.url, c.verification, c.statement)
            for c in citations.citations
        })
        self._systems = dict(conditions.systems)
        self._compile_value_sets(conditions, vsac)
        self._compile_fractures(fractures, vsac)
        self._compile_drugs(drugs)
        self._compile_observations(observations)
        self._compile_policy(policy)
        # Every code system a Condition rule reads (value sets and fracture sites)
        self.condition_code_systems: frozenset[str] = frozenset(
            [system for system, _ in self._vs_codes] + [p[0] for p in self._vs_prefixes]
            + [system for system, _ in self._fx_codes] + [p[0] for p in self._fx_prefixes])
        # Code lookups memoized per coding (thread-safe dict operations under the GIL; bounded).
        self._value_sets_memo: dict[Coding, tuple[tuple[str, Mapping[str, Any]], ...]] = {}
        self._fracture_memo: dict[Coding, FractureMatch | None] = {}
        self._observation_memo: dict[
            tuple[tuple[Coding, ...], str | None], ObservationMatch | None] = {}

    # ----------------------------------------------------------------- compile
    def _uri(self, alias: str) -> str:
        return self._systems[alias]  # type: ignore[index]

    def _compile_value_sets(
        self, data: schema.ConditionsFile, vsac: Mapping[str, schema.VsacFile]
    ) -> None:
        self._vs_codes: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
        self._vs_prefixes: list[tuple[str, str, str, Mapping[str, Any]]] = []
        self._vs_excluded: dict[str, list[tuple[str, str]]] = {}
        self.value_set_titles: Mapping[str, str] = MappingProxyType(
            {vs.id: vs.title for vs in data.value_sets})
        self.value_set_citations: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {vs.id: tuple(vs.citations) for vs in data.value_sets})
        self._vs_text_patterns: dict[str, list[re.Pattern[str]]] = {
            vs.id: [re.compile(p, re.IGNORECASE) for p in vs.text_patterns]
            for vs in data.value_sets if vs.text_patterns}
        for vs in data.value_sets:
            for file_name in vs.vsac:
                for compose in vsac[file_name].compose:
                    for concept in compose.concept:
                        key = (compose.system, normalize_code(compose.system, concept.code))
                        self._vs_codes.setdefault(key, []).append((vs.id, {}))
            for code in vs.codes:
                system = self._uri(code.system)
                key = (system, normalize_code(system, code.code))
                self._vs_codes.setdefault(key, []).append((vs.id, dict(code.attributes)))
            for prefix in vs.prefixes:
                system = self._uri(prefix.system)
                self._vs_prefixes.append(
                    (system, normalize_code(system, prefix.prefix), vs.id, dict(prefix.attributes)))
            self._vs_excluded[vs.id] = [
                (self._uri(p.system), normalize_code(self._uri(p.system), p.prefix))
                for p in vs.exclude_prefixes
            ]
        self._vs_prefixes.sort(key=lambda item: len(item[1]), reverse=True)

    def _compile_fractures(
        self, data: schema.FracturesFile, vsac: Mapping[str, schema.VsacFile]
    ) -> None:
        self.fracture_citations: tuple[str, ...] = tuple(data.citations)
        self.follow_up_characters = frozenset(data.follow_up_seventh_characters.characters)
        self.fracture_sites: Mapping[str, FractureSite] = MappingProxyType({
            s.id: FractureSite(s.id, s.label, s.group, s.vertebral, s.bone_mass_rule,
                               s.unspecified_site, s.verification)
            for s in data.sites
        })
        self._fx_codes: dict[tuple[str, str], tuple[str, bool]] = {}
        self._fx_prefixes: list[tuple[str, str, str, bool]] = []
        for site in data.sites:
            for code in site.codes:
                system = self._uri(code.system)
                coded = site.bone_mass_rule == "any" or bool(
                    code.attributes.get("osteoporotic_coded"))
                self._fx_codes[(system, normalize_code(system, code.code))] = (site.id, coded)
            for prefix in site.prefixes:
                system = self._uri(prefix.system)
                coded = site.bone_mass_rule == "any" or bool(
                    prefix.attributes.get("osteoporotic_coded"))
                self._fx_prefixes.append(
                    (system, normalize_code(system, prefix.prefix), site.id, coded))
        self._fx_prefixes.sort(key=lambda item: len(item[1]), reverse=True)
        excluded = {(self._uri(c.system), c.code) for c in data.vsac_excluded_codes}
        self._fx_vsac: set[tuple[str, str]] = set()
        for file_name in data.vsac:
            for compose in vsac[file_name].compose:
                for concept in compose.concept:
                    key = (compose.system, normalize_code(compose.system, concept.code))
                    if key not in excluded:
                        self._fx_vsac.add(key)
        self._fx_excluded = excluded
        self._fx_default_site = data.vsac_default_site

    def _compile_drugs(self, data: schema.DrugsFile) -> None:
        self.drugs: Mapping[str, Drug] = MappingProxyType({
            d.id: Drug(d.id, d.display, frozenset(d.classes), d.coverage_months,
                       tuple(d.citations), d.verification)
            for d in data.drugs
        })
        self._products: dict[str, tuple[str, bool]] = {}
        self._ingredients: dict[str, str] = {}
        self.product_displays: Mapping[str, str] = MappingProxyType(
            {p.code: p.display for d in data.drugs for p in d.products})
        self._strength_counts: dict[str, list[re.Pattern[str]]] = {}
        self._strength_excluded: dict[str, list[re.Pattern[str]]] = {}
        self._names: list[tuple[str, str]] = []
        self._excluded_names: list[tuple[str, str]] = []
        for drug in data.drugs:
            for product in drug.products:
                self._products[product.code] = (drug.id, product.counts)
            for ingredient in drug.ingredients:
                self._ingredients[ingredient.code] = drug.id
            self._strength_counts[drug.id] = [_strength_pattern(s) for s in drug.strength_counts]
            self._strength_excluded[drug.id] = [
                _strength_pattern(s) for s in drug.strength_excluded]
            self._names.extend((name.lower(), drug.id) for name in drug.names)
            self._excluded_names.extend((name.lower(), drug.id) for name in drug.excluded_names)

    def _compile_observations(self, data: schema.ObservationsFile) -> None:
        self.observation_titles: Mapping[str, str] = MappingProxyType(
            {o.id: o.title for o in data.observations})
        self.observation_citations: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {o.id: tuple(o.citations) for o in data.observations})
        self._loinc: dict[str, tuple[str, str | None]] = {}
        self._rejected_loinc: set[str] = set()
        self._local_codes: dict[str, str] = {}
        self._text_patterns: list[tuple[re.Pattern[str], str]] = []
        self._prefetch: list[str] = []
        self._prefetch_local: list[str] = []
        for kind in data.observations:
            for loinc in kind.loinc:
                self._loinc[loinc.code] = (kind.id, loinc.site)
                self._prefetch.append(loinc.code)
            self._prefetch_local.extend(kind.local_codes)
            self._rejected_loinc.update(r.code for r in kind.rejected_loinc)
            self._local_codes.update({c.lower(): kind.id for c in kind.local_codes})
            self._text_patterns.extend(
                (re.compile(p, re.IGNORECASE), kind.id) for p in kind.text_patterns)

    def _compile_policy(self, data: schema.PolicyFile) -> None:
        self.thresholds: Mapping[str, Threshold] = MappingProxyType({
            key: Threshold(key, t.value, t.unit, t.verification, tuple(t.citations), t.boundary,
                           t.enabled)
            for key, t in data.thresholds.items()
        })
        self.rules: Mapping[str, Rule] = MappingProxyType({
            key: Rule(key, r.label, tuple(r.citations), r.verification, r.enabled, r.note,
                      _other_guidelines(r.other_guidelines))
            for key, r in data.rules.items()
        })
        self.cv_policies: Mapping[str, CvPolicy] = MappingProxyType({
            key: CvPolicy(key, p.title, tuple(p.citations), p.recent_event, p.prior_event,
                          p.risk_factors)
            for key, p in data.cv_policies.items()
        })
        self.default_cv_policy: str = data.default_cv_policy
        self.safety_gates: Mapping[str, SafetyGateRule] = MappingProxyType({
            g.drug: SafetyGateRule(g.drug, tuple(g.citations), g.verification, g.note, g.min_egfr,
                                   g.caution_below_egfr, g.blocks_on_hypocalcemia,
                                   g.blocks_on_cv_contraindication)
            for g in data.safety_gates
        })
        self.plans: Mapping[str, Plan] = MappingProxyType({
            key: Plan(key, p.text, tuple(p.citations)) for key, p in data.plans.items()
        })

    # ----------------------------------------------------------------- public lookups
    def citation(self, citation_id: str) -> Citation:
        """The citation with this id (KeyError when unknown)."""
        return self.citations[citation_id]

    def threshold(self, name: str) -> Threshold:
        return self.thresholds[name]

    def value(self, name: str) -> Any:
        """A threshold's value, e.g. `value("very_low_t_score") == -3.0`."""
        return self.thresholds[name].value

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def cv_policy(self, name: str) -> CvPolicy:
        return self.cv_policies[name]

    def plan(self, plan_id: str) -> Plan:
        return self.plans[plan_id]

    def drug_display(self, drug_id: str) -> str:
        """Clinician display of a knowledge drug id, e.g. "denosumab 60 mg SC every 6 months"."""
        return self.drugs[drug_id].display

    def prefetch_observation_codes(self) -> tuple[str, ...]:
        """LOINC codes for the Observation prefetch, in data order, without duplicates."""
        return tuple(dict.fromkeys(self._prefetch))

    def prefetch_local_observation_codes(self) -> tuple[str, ...]:
        """EHR-local codes (any code system) the Observation prefetch also asks for, e.g. FRAX
        results an EHR stores under its own code; results known only by text cannot be searched."""
        return tuple(dict.fromkeys(self._prefetch_local))

    def match_value_set(self, value_set: str, codings: Iterable[Coding]) -> CodeMatch | None:
        """The first coding that belongs to `value_set` (codes, VSAC expansions, prefixes)."""
        for coding in codings:
            for vs_id, attributes in self._value_sets_of(coding):
                if vs_id == value_set:
                    return CodeMatch(vs_id, coding, attributes)
        return None

    def matches_value_set_text(self, value_set: str, text: str | None) -> bool:
        """Whether a text-only answer (no coding) reads as a member of `value_set`: one of its
        `text_patterns` matches the whole text, ignoring case and surrounding spaces."""
        if not text:
            return False
        stripped = text.strip()
        return any(p.fullmatch(stripped) for p in self._vs_text_patterns.get(value_set, ()))

    def value_sets_of(self, codings: Iterable[Coding]) -> dict[str, CodeMatch]:
        """Every value set any of the codings belongs to, with the first matching coding."""
        found: dict[str, CodeMatch] = {}
        for coding in codings:
            for vs_id, attributes in self._value_sets_of(coding):
                found.setdefault(vs_id, CodeMatch(vs_id, coding, attributes))
        return found

    def _value_sets_of(self, coding: Coding) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        found = self._value_sets_memo.get(coding)
        if found is None:
            found = tuple(self._lookup_value_sets(coding))
            _remember(self._value_sets_memo, coding, found)
        return found

    def _lookup_value_sets(self, coding: Coding) -> list[tuple[str, Mapping[str, Any]]]:
        if not coding.system or not coding.code:
            return []
        code = normalize_code(coding.system, coding.code)
        hits = list(self._vs_codes.get((coding.system, code), ()))
        for system, prefix, vs_id, attributes in self._vs_prefixes:
            if system == coding.system and code.startswith(prefix):
                hits.append((vs_id, attributes))
        return [
            (vs_id, attrs) for vs_id, attrs in hits
            if not any(system == coding.system and code.startswith(prefix)
                       for system, prefix in self._vs_excluded.get(vs_id, ()))
        ]

    def match_fracture(self, codings: Iterable[Coding]) -> FractureMatch | None:
        """The fragility-fracture site of the first fracture coding, or None."""
        for coding in codings:
            try:  # one lookup when remembered
                match = self._fracture_memo[coding]
            except KeyError:
                match = self._fracture_of(coding)
                _remember(self._fracture_memo, coding, match)
            if match is not None:
                return match
        return None

    def _fracture_of(self, coding: Coding) -> FractureMatch | None:
        if not coding.system or not coding.code:
            return None
        code = normalize_code(coding.system, coding.code)
        key = (coding.system, code)
        if key in self._fx_excluded:
            return None
        in_vsac = key in self._fx_vsac
        site_id, coded = self._fx_codes.get(key, (None, False))
        if site_id is None:
            for system, prefix, candidate, prefix_coded in self._fx_prefixes:
                if system == coding.system and code.startswith(prefix):
                    site_id, coded = candidate, prefix_coded
                    break
        if site_id is None and in_vsac:
            site_id, coded = self._fx_default_site, True
        if site_id is None:
            return None
        follow_up = (coding.system == ICD10CM and len(code) == 7
                     and code[-1] in self.follow_up_characters)
        return FractureMatch(self.fracture_sites[site_id], coding, follow_up, coded or in_vsac)

    def match_drug(
        self, codings: Iterable[Coding], text: str | None = None, strength_text: str = ""
    ) -> DrugMatch | None:
        """The knowledge drug of a medication: product code, else ingredient + strength, else name.

        `strength_text` adds e.g. the dose quantity ("120 mg") to the strength check of an
        ingredient-only or text-only medication.
        """
        codings = tuple(codings)
        rx = [c for c in codings if c.system == RXNORM and c.code]
        for coding in rx:
            hit = self._products.get(coding.code.strip())
            if hit is not None:
                return DrugMatch(self.drugs[hit[0]], hit[1], "product", coding)
        words = " ".join([text or "", strength_text, *(c.display or "" for c in codings)])
        for coding in rx:
            drug_id = self._ingredients.get(coding.code.strip())
            if drug_id is not None:
                return DrugMatch(self.drugs[drug_id], self._counts(drug_id, words), "ingredient",
                                 coding)
        lowered = words.lower()
        for name, drug_id in self._excluded_names:
            if name in lowered:
                return DrugMatch(self.drugs[drug_id], False, "name")
        for name, drug_id in self._names:
            if name in lowered:
                return DrugMatch(self.drugs[drug_id], self._counts(drug_id, words), "name")
        return None

    def _counts(self, drug_id: str, words: str) -> bool:
        upper = words.upper()
        if any(name in words.lower() for name, d in self._excluded_names if d == drug_id):
            return False
        return not any(p.search(upper) for p in self._strength_excluded[drug_id])

    def wants_condition(self, codings: tuple[Coding, ...]) -> bool:
        """True when a rule could read a Condition coded so: in a value set or a fracture site
        (`service.record.gather.RecordInterest`; the other Conditions are not parsed)."""
        return bool(self.value_sets_of(codings)) or self.match_fracture(codings) is not None

    def reads_condition_codes(self, codings: tuple[Coding, ...]) -> bool:
        """True when a Condition has a coding in a code system the rules read: one without
        (text only, WHO ICD-10, a local code) is one osteocds cannot judge."""
        return any(c.system in self.condition_code_systems for c in codings)

    def wants_observation(self, codings: tuple[Coding, ...], text: str | None) -> bool:
        """True when an Observation with this code and text is of a kind a rule reads."""
        return self.match_observation(codings, text) is not None

    def match_observation(
        self, codings: Iterable[Coding], text: str | None = None
    ) -> ObservationMatch | None:
        """The observation kind of a result: LOINC, then local code, then text; None if rejected."""
        key = (tuple(codings), text)
        try:  # one lookup when remembered (hashing the key is most of the cost of a call)
            return self._observation_memo[key]
        except KeyError:
            pass
        match = self._lookup_observation(*key)
        _remember(self._observation_memo, key, match)
        return match

    def _lookup_observation(
        self, codings: tuple[Coding, ...], text: str | None
    ) -> ObservationMatch | None:
        for coding in codings:
            if coding.system == LOINC and coding.code in self._rejected_loinc:
                return None
        for coding in codings:
            if coding.system == LOINC and coding.code in self._loinc:
                kind, site = self._loinc[coding.code]
                return ObservationMatch(kind, site, coding)
        for coding in codings:
            local_kind = self._local_codes.get(coding.code.strip().lower())
            if local_kind is not None and coding.system != LOINC:
                return ObservationMatch(local_kind, None, coding)
        texts = [t for t in (text, *(c.display for c in codings)) if t]
        for candidate in texts:
            for pattern, kind in self._text_patterns:
                if pattern.search(candidate):
                    return ObservationMatch(kind)
        return None
