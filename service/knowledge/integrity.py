"""Cross-file checks the per-file models cannot make: ids unique, references resolve."""

from __future__ import annotations

import re
from collections.abc import Iterable

from service.errors import ConfigurationError
from service.knowledge import schema


def _unique(file: str, field: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise ConfigurationError(f"knowledge file {file}: field {field}.{index}: duplicate id "
                                      f"{item!r}")
        seen.add(item)


def _require_regex(file_name: str, field: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigurationError(f"knowledge file {file_name}: field {field}: {exc}") from exc


def _resolve(file: str, field: str, cited: Iterable[str], known: set[str]) -> None:
    for index, citation in enumerate(cited):
        if citation not in known:
            raise ConfigurationError(f"knowledge file {file}: field {field}.{index}: unknown "
                                     f"citation {citation!r}")


def check_integrity(
    citations: schema.CitationsFile,
    conditions: schema.ConditionsFile,
    fractures: schema.FracturesFile,
    drugs: schema.DrugsFile,
    observations: schema.ObservationsFile,
    policy: schema.PolicyFile,
) -> None:
    """Raise ConfigurationError (file + field) on duplicate ids or dangling references."""
    _unique("citations.json", "citations", (c.id for c in citations.citations))
    _unique("conditions.json", "value_sets", (v.id for v in conditions.value_sets))
    _unique("fractures.json", "sites", (s.id for s in fractures.sites))
    _unique("drugs.json", "drugs", (d.id for d in drugs.drugs))
    _unique("observations.json", "observations", (o.id for o in observations.observations))
    _unique("drugs.json", "products", (p.code for d in drugs.drugs for p in d.products))
    known = {c.id for c in citations.citations}
    for i, vs in enumerate(conditions.value_sets):
        _resolve("conditions.json", f"value_sets.{i}.citations", vs.citations, known)
        for j, pattern in enumerate(vs.text_patterns):
            _require_regex("conditions.json", f"value_sets.{i}.text_patterns.{j}", pattern)
    _resolve("fractures.json", "citations", fractures.citations, known)
    _resolve("fractures.json", "follow_up_seventh_characters.citations",
             fractures.follow_up_seventh_characters.citations, known)
    if fractures.vsac_default_site not in {s.id for s in fractures.sites}:
        raise ConfigurationError("knowledge file fractures.json: field vsac_default_site: "
                                 "unknown site")
    for i, drug in enumerate(drugs.drugs):
        _resolve("drugs.json", f"drugs.{i}.citations", drug.citations, known)
    for i, kind in enumerate(observations.observations):
        _resolve("observations.json", f"observations.{i}.citations", kind.citations, known)
        for j, pattern in enumerate(kind.text_patterns):
            _require_regex("observations.json", f"observations.{i}.text_patterns.{j}", pattern)
    for key, threshold in policy.thresholds.items():
        _resolve("policy.json", f"thresholds.{key}.citations", threshold.citations, known)
    for key, rule in policy.rules.items():
        _resolve("policy.json", f"rules.{key}.citations", rule.citations, known)
        if rule.other_guidelines is not None:
            _resolve("policy.json", f"rules.{key}.other_guidelines.citations",
                     rule.other_guidelines.citations, known)
    for key, cv in policy.cv_policies.items():
        _resolve("policy.json", f"cv_policies.{key}.citations", cv.citations, known)
    if policy.default_cv_policy not in policy.cv_policies:
        raise ConfigurationError("knowledge file policy.json: field default_cv_policy: unknown "
                                 "policy")
    drug_ids = {d.id for d in drugs.drugs}
    for i, gate in enumerate(policy.safety_gates):
        _resolve("policy.json", f"safety_gates.{i}.citations", gate.citations, known)
        if gate.drug not in drug_ids:
            raise ConfigurationError(f"knowledge file policy.json: field safety_gates.{i}.drug: "
                                     f"unknown drug {gate.drug!r}")
    for key, plan in policy.plans.items():
        _resolve("policy.json", f"plans.{key}.citations", plan.citations, known)
