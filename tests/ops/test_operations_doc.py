"""docs/operations.md documents every setting the service reads, and nothing it does not."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text()


def _table_variables() -> set[str]:
    return set(re.findall(r"^\| `((?:OSTEOCDS|PROMETHEUS)_[A-Z_]+)` \|", DOC, flags=re.MULTILINE))


def test_every_setting_is_in_the_table_once():
    expected = {f"OSTEOCDS_{name.upper()}" for name in Settings.model_fields}
    documented = _table_variables()
    assert expected <= documented, f"undocumented: {sorted(expected - documented)}"
    assert documented - expected == {"PROMETHEUS_MULTIPROC_DIR"}, "documents unknown settings"


def test_documented_defaults_match_the_code():
    rows = dict(re.findall(r"^\| `(OSTEOCDS_[A-Z_]+)` \| `([^`]*)`", DOC, flags=re.MULTILINE))
    for name, field in Settings.model_fields.items():
        documented = rows.get(f"OSTEOCDS_{name.upper()}")
        if documented is None or field.default is None:
            continue
        default = field.default
        if isinstance(default, tuple):
            rendered = "[" + ",".join(f'"{item}"' for item in default) + "]"
        elif isinstance(default, bool):
            rendered = str(default).lower()
        else:
            rendered = str(default)
        assert documented == rendered, f"OSTEOCDS_{name.upper()}: doc {documented}, code {rendered}"


def test_deployment_files_use_only_documented_variables():
    documented = _table_variables()
    used: set[str] = set()
    compose_files = [ROOT / "docker-compose.yml", ROOT / "deploy/production/docker-compose.yml"]
    for path in compose_files:
        for service in yaml.safe_load(path.read_text())["services"].values():
            used |= set(service.get("environment", {}))
    for path in (ROOT / "deploy" / "kubernetes").glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") in ("ConfigMap", "Secret"):
                used |= {k for k in document.get("data", document.get("stringData", {}))
                         if k.isupper()}
    settings = {name for name in used if name.startswith(("OSTEOCDS_", "PROMETHEUS_"))}
    assert settings <= documented, sorted(settings - documented)


def test_metric_names_in_the_doc_are_the_ones_served():
    from service import telemetry

    source = Path(telemetry.__file__).read_text()
    for name in re.findall(r"^\| `(osteocds_[a-z_]+)` \|", DOC, flags=re.MULTILINE):
        base = name.removesuffix("_total")
        assert f'"{base}"' in source, name
