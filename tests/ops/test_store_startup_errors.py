"""docs/operations.md, "Feedback store": a database URL that cannot be read (a password holding
`@` or `#` not percent-encoded, a port that is not one), a database that cannot be reached and a
data directory that cannot be written stop `serve`, `migrate` and `feedback-report` with one
line naming the variable and exit status 2 (so does `purge-issued-cards`): no traceback, and
no part of the URL (libpq's own message quoted the rest of a misread password as the host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_service import free_port
from tests.ops.test_configuration_errors import COMMANDS
from tests.store.test_store_outages import unprivileged

REPO = Path(__file__).resolve().parents[2]

STORE_COMMANDS = ("serve", "migrate", "feedback-report", "purge-issued-cards")
PASSWORD_PIECES = ("Zq7", "Wv9", "#k")
CLOSED_PORT = free_port()
URLS = {
    # The audit's case: was "failed to resolve host 'ret#x@127.0.0.1'", exit 1.
    "password-with-at-and-hash": "postgresql://postgres:Zq7@Wv9#k@127.0.0.1/fracturedb",
    "password-with-slash": "postgresql://postgres:Zq7/Wv9@127.0.0.1/fracturedb",
    "port-not-a-number": "postgresql://postgres:Zq7Wv9@127.0.0.1:54x2/fracturedb",
    "port-out-of-range": "postgresql://postgres:Zq7Wv9@127.0.0.1:99999/fracturedb",
    "nothing-listening": f"postgresql://postgres:Zq7Wv9@127.0.0.1:{CLOSED_PORT}/fracturedb",
}


def osteocds(args: list[str], tmp_path: Path, *, prefix: tuple[str, ...] = (),
             **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess (after `prefix`), with only the given OSTEOCDS_* settings."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("OSTEOCDS_") and k != "PYTHONPATH"}
    environment.update({"OSTEOCDS_DATA_DIR": str(tmp_path / "data"), **env})
    args = [arg.replace("{port}", str(free_port())) for arg in args]
    return subprocess.run([*prefix, sys.executable, "-m", "service.cli", *args], cwd=REPO,
                          env=environment, capture_output=True, text=True, timeout=120,
                          check=False)


def assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"osteocds: configuration error: {variable}: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("case", sorted(URLS))
@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_a_bad_or_unreachable_database_url_is_one_line_without_the_url(
        tmp_path: Path, command: str, case: str) -> None:
    result = osteocds(COMMANDS[command], tmp_path, OSTEOCDS_DATABASE_URL=URLS[case])
    assert_one_line_naming(result, "OSTEOCDS_DATABASE_URL")
    for part in (*PASSWORD_PIECES, "127.0.0.1", "fracturedb", "54x2", "99999", str(CLOSED_PORT)):
        assert part not in result.stderr, (part, result.stderr)
    if case == "nothing-listening":
        assert result.stderr.rstrip().endswith("(connection refused)"), result.stderr
    else:
        assert "percent-encode" in result.stderr, result.stderr


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_a_data_directory_that_cannot_be_written_is_one_line(tmp_path: Path,
                                                             command: str) -> None:
    data = tmp_path / "read-only"
    data.mkdir(mode=0o555)
    try:
        result = osteocds(COMMANDS[command], tmp_path, OSTEOCDS_DATA_DIR=str(data),
                          prefix=tuple(unprivileged()))
    finally:
        data.chmod(0o755)
    assert_one_line_naming(result, "OSTEOCDS_DATA_DIR")
    assert "unable to open database file" in result.stderr


def test_a_percent_encoded_password_is_read_whole(tmp_path: Path) -> None:
    """The documented fix: the same password percent-encoded reaches the server whole (here:
    nothing listens, so the answer is "connection refused", not a host-name error)."""
    url = f"postgresql://postgres:Zq7%40Wv9%23k@127.0.0.1:{CLOSED_PORT}/fracturedb"
    result = osteocds(COMMANDS["migrate"], tmp_path, OSTEOCDS_DATABASE_URL=url)
    assert_one_line_naming(result, "OSTEOCDS_DATABASE_URL")
    assert result.stderr.rstrip().endswith("(connection refused)"), result.stderr
