"""Both compose files validate against the vendored Compose Specification schema, and say what the
demo and the production deployment promise (profiles, health checks, start order, secrets)."""

from __future__ import annotations

import copy
import hashlib
import json
import re

import jsonschema
import pytest
import yaml

from tests.deploy.deploy_files import ROOT

SCHEMA_FILE = ROOT / "tests" / "deploy" / "schemas" / "compose-spec.json"
SCHEMA_SHA256 = "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c"
DEMO = ROOT / "docker-compose.yml"
PRODUCTION = ROOT / "deploy" / "production" / "docker-compose.yml"
VALIDATOR = jsonschema.Draft201909Validator(json.loads(SCHEMA_FILE.read_text()))


def _load(path):
    return yaml.safe_load(path.read_text())


def _errors(document) -> list[str]:
    return [f"{e.json_path}: {e.message[:160]}" for e in VALIDATOR.iter_errors(document)]


def test_vendored_schema_is_the_recorded_copy():
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


@pytest.mark.parametrize("path", [DEMO, PRODUCTION], ids=["demo", "production"])
def test_compose_file_is_valid(path):
    assert _errors(_load(path)) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["services"]["osteocds"]["depends_on"]["postgres"].update(condition="ready"),
        lambda d: d["services"]["osteocds"]["healthcheck"].update(every="10s"),
        lambda d: d["services"]["osteocds"].update(port=["8080:8080"]),
        lambda d: d.update(service={}),
    ],
    ids=["unknown-condition", "unknown-healthcheck-key", "misspelt-ports", "misspelt-services"],
)
def test_schema_rejects_broken_files(break_it):
    document = copy.deepcopy(_load(DEMO))
    break_it(document)
    assert _errors(document), "the schema must catch this mistake"


@pytest.mark.parametrize("path", [DEMO, PRODUCTION], ids=["demo", "production"])
def test_every_image_is_pinned_and_every_dependency_exists(path):
    services = _load(path)["services"]
    for name, service in services.items():
        image = service["image"]
        if "${" in image:
            continue
        tag = image.rpartition(":")[2]
        assert ":" in image, f"{name}: {image} has no tag"
        assert tag != "latest"
        assert re.search(r"\d", tag) or tag == "local", f"{name}: {image} is not pinned"
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_demo_stack_wires_service_hapi_postgres_and_fixtures():
    services = _load(DEMO)["services"]
    assert set(services) >= {"osteocds", "hapi", "postgres", "fixtures"}
    assert services["hapi"]["image"].startswith("hapiproject/hapi:v")
    service = services["osteocds"]
    env = service["environment"]
    assert env["OSTEOCDS_PROFILE"] == "dev"
    assert env["OSTEOCDS_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["OSTEOCDS_DATABASE_URL"]
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    fixtures = services["fixtures"]
    assert fixtures["command"][:4] == ["fixtures", "load", "--fhir-server", "http://hapi:8080/fhir"]
    assert fixtures["restart"] == "no"
    assert fixtures["image"] == service["image"]
    assert set(fixtures["depends_on"]) == {"hapi", "osteocds"}


@pytest.mark.parametrize("path", [DEMO, PRODUCTION], ids=["demo", "production"])
def test_service_container_is_locked_down(path):
    service = _load(path)["services"]["osteocds"]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert any(v.endswith(":/data") for v in service["volumes"])


def test_production_example_uses_production_profile_secret_and_tls_proxy():
    document = _load(PRODUCTION)
    services = document["services"]
    service = services["osteocds"]
    env = service["environment"]
    assert env["OSTEOCDS_PROFILE"] == "production"
    assert env["OSTEOCDS_PUBLIC_BASE_URL"].startswith("https://")
    assert env["OSTEOCDS_TRUSTED_ISSUERS_FILE"] == "/run/secrets/trusted_issuers"
    assert service["secrets"] == ["trusted_issuers"]
    assert document["secrets"]["trusted_issuers"]["file"] == "./trusted-issuers.json"
    assert "ports" not in service, "only the TLS proxy is published"
    assert services["proxy"]["ports"] == ["443:443", "80:80"]
    assert "${POSTGRES_PASSWORD:?" in env["OSTEOCDS_DATABASE_URL"], "no password in the file"
    caddyfile = (PRODUCTION.parent / "Caddyfile").read_text()
    assert "reverse_proxy osteocds:8080" in caddyfile


def test_production_issuers_example_is_accepted_by_the_service():
    from service.security.issuers import load_trusted_issuers

    issuers = load_trusted_issuers(PRODUCTION.parent / "trusted-issuers.example.json")
    assert len(issuers) == 1
