"""Read and validate the knowledge data files (package data) into a `Knowledge`."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from service.errors import ConfigurationError
from service.knowledge import schema
from service.knowledge.knowledge import Knowledge

DATA_PACKAGE = "service.knowledge.data"
_Model = TypeVar("_Model", bound=BaseModel)


def _field_path(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(root)"


def parse_file(name: str, raw: str, model: type[_Model]) -> _Model:
    """Validate one file's text; ConfigurationError names the file and the first bad field."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"knowledge file {name}: invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(
            f"knowledge file {name}: field {_field_path(first)}: {first['msg']}"
        ) from exc


def _read(package: str, name: str) -> str:
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise ConfigurationError(f"knowledge file {name}: cannot be read") from exc


def build_knowledge(files: dict[str, str]) -> Knowledge:
    """Build from file texts keyed by relative name ("policy.json", "vsac/stroke.json")."""

    def get(name: str) -> str:
        if name not in files:
            raise ConfigurationError(f"knowledge file {name}: missing")
        return files[name]

    manifest = parse_file("manifest.json", get("manifest.json"), schema.ManifestFile)
    citations = parse_file("citations.json", get("citations.json"), schema.CitationsFile)
    conditions = parse_file("conditions.json", get("conditions.json"), schema.ConditionsFile)
    fractures = parse_file("fractures.json", get("fractures.json"), schema.FracturesFile)
    drugs = parse_file("drugs.json", get("drugs.json"), schema.DrugsFile)
    observations = parse_file("observations.json", get("observations.json"),
                              schema.ObservationsFile)
    policy = parse_file("policy.json", get("policy.json"), schema.PolicyFile)
    vsac_names = {n for vs in conditions.value_sets for n in vs.vsac} | set(fractures.vsac)
    vsac = {n: parse_file(f"vsac/{n}", get(f"vsac/{n}"), schema.VsacFile)
            for n in sorted(vsac_names)}
    from service.knowledge.integrity import check_integrity

    check_integrity(citations, conditions, fractures, drugs, observations, policy)
    return Knowledge(manifest, citations, conditions, fractures, drugs, observations, policy,
                     vsac)


def read_package_files() -> dict[str, str]:
    """Every data file of the package, keyed by its name relative to the data folder."""
    files = {"manifest.json": _read(DATA_PACKAGE, "manifest.json")}
    manifest = parse_file("manifest.json", files["manifest.json"], schema.ManifestFile)
    for name in manifest.files:
        files[name] = _read(DATA_PACKAGE, name)
    vsac_dir = resources.files(DATA_PACKAGE).joinpath("vsac")
    for entry in vsac_dir.iterdir():
        if entry.name.endswith(".json"):
            files[f"vsac/{entry.name}"] = entry.read_text(encoding="utf-8")
    return files


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """The package knowledge, validated once per process (ConfigurationError when broken)."""
    return build_knowledge(read_package_files())
