"""deploy/kubernetes validates against the Kubernetes API schemas of a pinned version (strict: no
unknown fields), offline with kubernetes-validate, and keeps the promised security posture."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from tests.deploy.deploy_files import ROOT

KUBERNETES_VERSION = "1.31.0"
DIRECTORY = ROOT / "deploy" / "kubernetes"
MANIFEST_FILES = sorted(p for p in DIRECTORY.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents() -> list[dict]:
    documents = []
    for path in MANIFEST_FILES:
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


DOCUMENTS = _documents()


def _one(kind: str, name: str | None = None) -> dict:
    found = [
        d for d in DOCUMENTS
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}"
    return found[0]


def _container() -> dict:
    return _one("Deployment")["spec"]["template"]["spec"]["containers"][0]


def _document_id(document: dict) -> str:
    return f"{document['kind']}-{document['metadata']['name']}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_document_id)
def test_manifest_is_valid_for_the_pinned_kubernetes(document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_validator_catches_a_misspelt_field():
    deployment = json.loads(json.dumps(_one("Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((DIRECTORY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in MANIFEST_FILES]


def test_expected_kinds_are_present():
    kinds = {d["kind"] for d in DOCUMENTS}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}


def test_probes_hit_healthz_and_readyz_on_the_served_port():
    container = _container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["port"] in port_names
    args = container["args"]
    assert int(args[args.index("--port") + 1]) == port_names["http"]


def test_liveness_outlasts_a_slow_ehr_queueing_healthz():
    """An ops audit saw /healthz wait 14.5 s behind hook calls held by a slow FHIR server:
    liveness must not restart the pods for that (at least a minute of failed probes)."""
    probe = _container()["livenessProbe"]
    assert probe["timeoutSeconds"] >= 5
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 60


def test_container_runs_locked_down_with_resources():
    pod = _one("Deployment")["spec"]["template"]["spec"]
    container = _container()
    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/data"} <= mounts, "the only writable paths on a read-only root"


def test_service_and_autoscaler_target_the_deployment():
    deployment = _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _one("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = _one("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_configuration_names_only_real_settings():
    from service.config import Settings

    known = {f"OSTEOCDS_{name.upper()}" for name in Settings.model_fields}
    data = _one("ConfigMap")["data"]
    settings = {k for k in data if k.startswith("OSTEOCDS_")}
    assert settings <= known, f"unknown settings: {sorted(settings - known)}"
    secret_env = _container()["env"]
    assert {e["name"] for e in secret_env} <= known
    assert data["OSTEOCDS_PROFILE"] == "production"
    assert data["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_issuers_secret_is_mounted_where_the_setting_points_and_parses(tmp_path):
    from service.security.issuers import load_trusted_issuers

    secret = _one("Secret", "osteocds-issuers")
    mount = next(m for m in _container()["volumeMounts"] if m["name"] == "issuers")
    (filename, content), = secret["stringData"].items()
    expected = f"{mount['mountPath']}/{filename}"
    assert _one("ConfigMap")["data"]["OSTEOCDS_TRUSTED_ISSUERS_FILE"] == expected
    copy = tmp_path / filename
    copy.write_text(content)
    assert len(load_trusted_issuers(copy)) == 1


def test_the_retention_job_purges_issued_cards_from_the_shared_database_locked_down():
    from service.cli import build_parser

    job = _one("CronJob")
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])  # a real command with valid arguments
    assert args.command == "purge-issued-cards"
    assert args.older_than_days >= 1
    assert not args.dry_run
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    database = next(e for e in container["env"] if e["name"] == "OSTEOCDS_DATABASE_URL")
    deployment_database = next(e for e in _container()["env"]
                               if e["name"] == "OSTEOCDS_DATABASE_URL")
    assert database["valueFrom"] == deployment_database["valueFrom"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["image"] == _container()["image"]
