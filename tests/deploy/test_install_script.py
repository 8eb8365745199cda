"""Runs docker/install.sh, the image's own install steps, outside Docker.

The builder phase builds the wheels from exactly the files .dockerignore sends; the runtime phase
installs them offline into a fresh prefix (SKIP_USER=1: no user is created on the test machine).
The installed command then runs from outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploy_files import ROOT, build_context_files

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("image")
    context = work / "context"
    for relative in build_context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    paths = {
        "WHEEL_DIR": work / "wheels",
        "INSTALL_PREFIX": work / "opt" / "osteocds",
        "DATA_DIR": work / "data",
    }
    env = {**os.environ, **{k: str(v) for k, v in paths.items()}}
    env.update(PYTHON=sys.executable, SKIP_USER="1")
    script = str(ROOT / "docker" / "install.sh")
    for phase in (["wheels", str(context)], ["install"]):
        done = subprocess.run(
            ["sh", script, *phase], env=env, cwd=work, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, f"install.sh {phase[0]} failed:\n{done.stderr[-3000:]}"
    return {**paths, "work": work}


def test_builder_phase_produces_only_wheels(installed):
    wheels = sorted(p.name for p in installed["WHEEL_DIR"].iterdir())
    assert any(name.startswith("osteocds-") for name in wheels)
    assert all(name.endswith(".whl") for name in wheels), "no source distribution to compile"


def test_installed_command_runs_from_outside_the_checkout(installed):
    prefix = installed["INSTALL_PREFIX"]
    clean_env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(installed["work"])}
    done = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import service; print(service.__file__)"],
        cwd=installed["work"], env=clean_env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(prefix)), "imports the installed copy, not the tree"
    helped = subprocess.run(
        [str(prefix / "bin" / "osteocds"), "--help"],
        cwd=installed["work"], env=clean_env, capture_output=True, text=True, timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout


def test_the_image_runs_the_compiled_build(installed):
    """install.sh compiles the project wheel (COMPILE=1, the image's default): the installed
    package loads its record, evaluation and card modules as extension modules and answers a
    hook with them."""
    prefix = installed["INSTALL_PREFIX"]
    clean_env = {"PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "HOME": str(installed["work"])}
    probe = (
        "import json, sys\n"
        "from service.compiled import build_description\n"
        "import service.record.parse, cards.romosozumab\n"
        "from service.app import create_app\n"
        "from service.config import Settings\n"
        "import fhir_fixtures\n"
        "from datetime import date\n"
        "from service.hook_requests import build_hook_request\n"
        "app = create_app(Settings(profile='dev', data_dir=sys.argv[1], database_url=None))\n"
        "bundle = fhir_fixtures.render_persona('x02', date.today())\n"
        "body = build_hook_request('patient-view', bundle)\n"
        "answer = app.test_client().post('/cds-services/osteoporosis-patient-view', json=body)\n"
        "print(json.dumps({'build': build_description(),\n"
        "  'files': [service.record.parse.__file__, cards.romosozumab.__file__],\n"
        "  'status': answer.status_code,\n"
        "  'topics': [c['source']['topic']['code'] for c in answer.get_json()['cards']]}))\n"
    )
    done = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", probe, str(installed["DATA_DIR"])],
        cwd=installed["work"], env=clean_env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["build"].startswith("compiled (mypyc, ")
    assert all(path.endswith(".so") and path.startswith(str(prefix)) for path in report["files"])
    assert report["status"] == 200
    assert "romosozumab-proposal" in report["topics"]


def test_runtime_has_no_pip_and_a_private_data_directory(installed):
    prefix = installed["INSTALL_PREFIX"]
    assert not list((prefix / "lib").glob("python3*/site-packages/pip"))
    mode = stat.S_IMODE(installed["DATA_DIR"].stat().st_mode)
    assert mode == 0o750


def test_package_data_is_installed(installed):
    site = next((installed["INSTALL_PREFIX"] / "lib").glob("python3*/site-packages"))
    shipped = {p.relative_to(site).as_posix() for p in (site / "service").rglob("*.json")}
    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "service").rglob("*.json")}
    assert in_tree <= shipped, f"missing from the image: {sorted(in_tree - shipped)[:5]}"
