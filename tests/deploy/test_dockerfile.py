"""Properties of the container image, read from the Dockerfile and .dockerignore (no Docker engine
runs on the CI machines; the install steps themselves run in test_install_script.py)."""

from __future__ import annotations

import re

import pytest

from tests.deploy.deploy_files import (
    ROOT,
    build_context_files,
    dockerignore_rules,
    exec_form,
    is_in_build_context,
    parse_dockerfile,
)

STAGES = parse_dockerfile(ROOT / "Dockerfile")
FINAL = STAGES[-1]
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|build-essential|libc6-dev|python3-dev|[a-z0-9.+-]+-dev)\b"
)


def _env(stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in exec_form(instruction.arguments):
            name, _, value = word.partition("=")
            values[name] = value
    return values


def test_multi_stage_on_a_pinned_slim_python_3_11():
    assert len(STAGES) >= 2
    for stage in STAGES:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", stage.base_image), stage.base_image


def test_final_stage_runs_as_a_numeric_non_root_user():
    users = FINAL.all("USER")
    assert users, "the final stage must set USER"
    user = users[-1].arguments.split(":")[0]
    assert user.isdigit()
    assert int(user) != 0
    keywords = [i.keyword for i in FINAL.instructions]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_no_build_tools_reach_the_final_stage():
    for run in FINAL.all("RUN"):
        assert "apt-get install" not in run.arguments or not BUILD_TOOLS.search(run.arguments)
    copies = " ".join(c.arguments for c in FINAL.all("COPY"))
    assert "/wheels" not in copies, "wheels are bind-mounted, never copied into a layer"
    assert not [c for c in FINAL.all("COPY") if c.flags.get("from")], "nothing copied from builder"


def test_both_stages_run_the_shared_install_script():
    builder, final = STAGES[0], FINAL
    for stage, phase in ((builder, "wheels"), (final, "install")):
        assert any("docker/install.sh" in c.arguments for c in stage.all("COPY"))
        assert any(f"osteocds-install {phase}" in r.arguments for r in stage.all("RUN"))
    install = next(r for r in final.all("RUN") if "osteocds-install install" in r.arguments)
    assert install.flags["mount"].startswith("type=bind,from=builder")


def test_healthcheck_probes_healthz():
    checks = FINAL.all("HEALTHCHECK")
    assert len(checks) == 1
    assert "/healthz" in checks[0].arguments
    assert checks[0].flags.get("interval")
    assert checks[0].flags.get("timeout")


def test_serves_on_all_interfaces_with_configuration_from_the_environment():
    command = exec_form(FINAL.all("ENTRYPOINT")[-1].arguments) + exec_form(
        FINAL.all("CMD")[-1].arguments
    )
    assert command[:2] == ["osteocds", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (inside the container)
    assert "--dev" not in command, "the image defaults to the production profile"
    env = _env(FINAL)
    assert env["OSTEOCDS_DATA_DIR"] == "/data"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_read_only_root_filesystem_needs_only_data_and_tmp():
    assert exec_form(FINAL.all("VOLUME")[-1].arguments) == ["/data"]
    env = _env(FINAL)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("service/app.py", True),
        ("cards/orders.py", True),
        ("fhir_fixtures/__init__.py", True),
        ("docker/install.sh", True),
        (".git/HEAD", False),
        (".venv/bin/python", False),
        ("data/feedback.sqlite3", False),
        ("tests/fhir_server/node_modules/x/index.js", False),
        ("service/__pycache__/app.cpython-311.pyc", False),
        (".env", False),
    ],
)
def test_dockerignore_sends_only_what_the_image_needs(path, sent):
    assert is_in_build_context(path, dockerignore_rules(ROOT / ".dockerignore")) is sent


def test_build_context_holds_no_tests_or_secrets():
    files = build_context_files()
    assert "docker/install.sh" in files
    assert not [f for f in files if f.startswith(("tests/", "deploy/", "benchmarks/"))]
