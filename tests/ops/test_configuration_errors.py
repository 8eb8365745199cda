"""docs/operations.md, "Configuration": an invalid setting stops every command that reads the
settings with one line naming the variable and exit status 2, never a traceback. Runs the real
`osteocds` CLI in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from tests.live_service import free_port

REPO = Path(__file__).resolve().parents[2]

COMMANDS = {
    "serve": ["serve", "--dev", "--host", "127.0.0.1", "--port", "{port}"],
    "migrate": ["migrate"],
    "feedback-report": ["feedback-report"],
    "purge-issued-cards": ["purge-issued-cards", "--older-than-days", "400", "--dry-run"],
    "check-fhir-server": ["check-fhir-server", "http://127.0.0.1:9/fhir", "--patient", "p1",
                          "--dev"],
}
BAD_SETTINGS = {
    # Not in the documented DEBUG, INFO, WARNING, ERROR: was `ValueError: Unknown level`, exit 1.
    "OSTEOCDS_LOG_LEVEL": "bogus",
    # A list setting that is not a JSON array: was pydantic_settings' SettingsError, exit 1.
    "OSTEOCDS_CORS_ALLOWED_ORIGINS": "https://a.example",
}


def osteocds(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    environment.update(OSTEOCDS_DATA_DIR=str(tmp_path / "data"), **env)
    args = [arg.replace("{port}", str(free_port())) for arg in args]
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("variable", sorted(BAD_SETTINGS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_invalid_setting_is_one_line_and_exit_status_2(
        tmp_path: Path, command: str, variable: str) -> None:
    value = BAD_SETTINGS[variable]
    result = osteocds(COMMANDS[command], tmp_path, **{variable: value})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"osteocds: configuration error: {variable}: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert value not in result.stderr  # the message names the variable, not its value


def test_an_out_of_range_setting_names_its_variable(tmp_path: Path) -> None:
    result = osteocds(["migrate"], tmp_path, OSTEOCDS_MAX_BODY_BYTES="0")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("osteocds: configuration error: OSTEOCDS_MAX_BODY_BYTES: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "warning", "Info"])
def test_the_documented_log_levels_are_accepted_in_any_case(level: str) -> None:
    assert Settings(log_level=level).log_level == level.upper()


@pytest.mark.parametrize("level", ["bogus", "CRITICAL", "NOTSET", "10", ""])
def test_other_log_levels_are_refused(level: str) -> None:
    with pytest.raises(ValueError, match="must be one of DEBUG, INFO, WARNING, ERROR"):
        Settings(log_level=level)
