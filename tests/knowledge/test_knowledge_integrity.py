"""Knowledge data: loads, ids unique, every rule and threshold cites a resolvable source,
broken files stop the service with a message naming file and field."""

from __future__ import annotations

import json

import pytest

from service.errors import ConfigurationError
from service.knowledge import build_knowledge, load_knowledge, read_package_files

VERIFICATION_LEVELS = {"V", "V2", "V2+", "U"}


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


def test_loads_with_version_and_is_cached(knowledge):
    assert knowledge.version
    assert load_knowledge() is knowledge


def test_citations_have_ids_levels_and_absolute_urls(knowledge):
    assert {"aace-2020", "endocrine-society-2020", "endocrine-society-2019", "acp-2023",
            "evenity-boxed-warning", "prolia-boxed-warning", "ects-2021",
            "sarli-2025"} <= set(knowledge.citations)
    for citation in knowledge.citations.values():
        assert citation.verification in VERIFICATION_LEVELS
        assert citation.url is None or citation.url.startswith(("http://", "https://"))
    assert knowledge.citation("sarli-2025").url == "https://doi.org/10.1093/jbmrpl/ziaf186"


def test_every_rule_threshold_plan_and_gate_cites_known_sources(knowledge):
    cited = [
        *(c for t in knowledge.thresholds.values() for c in t.citations),
        *(c for r in knowledge.rules.values() for c in r.citations),
        *(c for p in knowledge.plans.values() for c in p.citations),
        *(c for g in knowledge.safety_gates.values() for c in g.citations),
        *(c for p in knowledge.cv_policies.values() for c in p.citations),
        *(c for d in knowledge.drugs.values() for c in d.citations),
        *(c for r in knowledge.rules.values() if r.other_guidelines
          for c in r.other_guidelines.citations),
    ]
    assert cited
    assert all(c in knowledge.citations for c in cited)
    assert all(t.citations for t in knowledge.thresholds.values())


def test_prefetch_codes_cover_the_required_observations(knowledge):
    codes = knowledge.prefetch_observation_codes()
    required = {"38267-1", "38263-0", "38264-8", "38265-5", "80948-3", "80947-5", "80946-7",
                "80945-9", "17861-6", "2000-8", "1751-7", "62292-8", "98979-8", "41171-0",
                "77370-5", "90265-0", "90266-8", "72166-2"}
    assert required <= set(codes)
    assert "38266-3" not in codes  # calcaneus
    assert not {"85394-5", "80934-3", "80933-5", "47596-2"} & set(codes)  # Z-scores, ionized
    assert len(codes) == len(set(codes))


def _broken(mutate, name):
    files = read_package_files()
    data = json.loads(files[name])
    mutate(data)
    files[name] = json.dumps(data)
    return files


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [
        ("policy.json", lambda d: d["thresholds"]["very_low_t_score"].pop("citations"),
         "thresholds.very_low_t_score.citations"),
        ("policy.json", lambda d: d["thresholds"]["very_low_t_score"].update(citations=["nope"]),
         "thresholds.very_low_t_score.citations.0"),
        ("drugs.json", lambda d: d["drugs"][0].update(verification="maybe"),
         "drugs.0.verification"),
        ("citations.json", lambda d: d["citations"].append(dict(d["citations"][0])),
         "citations"),
        ("observations.json", lambda d: d["observations"][0]["loinc"][0].update(code="abc"),
         "observations.0.loinc.0.code"),
        ("conditions.json", lambda d: d["value_sets"][0].update(text_patterns=["current (smoker"]),
         "value_sets.0.text_patterns.0"),
        ("policy.json", lambda d: d["rules"]["very-high-risk.frax"]["other_guidelines"].update(
            citations=["nogg-2022", "nope"]),
         "rules.very-high-risk.frax.other_guidelines.citations.1"),
        ("policy.json", lambda d: d["rules"]["very-high-risk.frax"]["other_guidelines"].update(
            citations=[]), "rules.very-high-risk.frax.other_guidelines.citations"),
        ("policy.json", lambda d: d["rules"]["very-high-risk.frax"]["other_guidelines"].pop(
            "verification"), "rules.very-high-risk.frax.other_guidelines.verification"),
    ],
)
def test_broken_file_names_file_and_field(name, mutate, expected):
    with pytest.raises(ConfigurationError) as info:
        build_knowledge(_broken(mutate, name))
    assert name in str(info.value)
    assert expected in str(info.value)


def test_invalid_json_names_the_file():
    files = read_package_files()
    files["fractures.json"] = "{"
    with pytest.raises(ConfigurationError, match=r"fractures\.json"):
        build_knowledge(files)


def test_missing_vsac_copy_names_the_file():
    files = read_package_files()
    del files["vsac/ischemic-stroke.json"]
    with pytest.raises(ConfigurationError, match=r"vsac/ischemic-stroke\.json"):
        build_knowledge(files)
