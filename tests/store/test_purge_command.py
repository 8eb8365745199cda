"""`osteocds purge-issued-cards`: the retention command over real stores (SQLite always,
PostgreSQL when configured), its dry run, its argument checks and the installed entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from service.cli import main
from service.config import Settings
from service.store import Store, open_store
from service.store.model import utc_now
from tests.cards.test_feedback_report import postgres_url  # noqa: F401 (fixture)


def seed(url: str) -> None:
    """Two rows 40 days old, one 29 days old, one from today."""
    store = open_store(Settings(database_url=url))
    store.migrate()
    now = utc_now()
    store._insert_issued_rows([
        ("a", "topic", "svc", now - timedelta(days=40)),
        ("b", "topic", "svc", now - timedelta(days=40, hours=1)),
        ("c", "topic", "svc", now - timedelta(days=29)),
        ("d", "topic", "svc", now),
    ])
    store.close()


def remaining(url: str) -> list[str]:
    store: Store = open_store(Settings(database_url=url))
    try:
        return [card.card_uuid for card in store.iter_issued_cards()]
    finally:
        store.close()


def check_purge(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed(url)
    assert main(["purge-issued-cards", "--older-than-days", "30", "--dry-run",
                 "--database-url", url]) == 0
    assert re.match(r"would delete 2 issued-card rows issued before \d{4}-\d\d-\d\dT",
                    capsys.readouterr().out)
    assert sorted(remaining(url)) == ["a", "b", "c", "d"]
    assert main(["purge-issued-cards", "--older-than-days", "30", "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith("deleted 2 issued-card rows")
    assert sorted(remaining(url)) == ["c", "d"]


def test_purge_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check_purge(f"sqlite:///{tmp_path / 'store.sqlite3'}", capsys)


@pytest.mark.postgres
def test_purge_on_postgres(postgres_url: str,  # noqa: F811 (the imported fixture)
                           capsys: pytest.CaptureFixture[str]) -> None:
    check_purge(postgres_url, capsys)


@pytest.mark.parametrize("days", ["0", "-3", "2.5", "ten", "36501"])
def test_a_bad_number_of_days_is_refused(days: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with pytest.raises(SystemExit) as stopped:
        main(["purge-issued-cards", "--older-than-days", days, "--database-url", url])
    assert stopped.value.code == 2
    assert "--older-than-days" in capsys.readouterr().err


def test_the_number_of_days_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["purge-issued-cards"])
    assert stopped.value.code == 2
    assert "--older-than-days" in capsys.readouterr().err


def test_a_store_never_migrated_has_nothing_to_purge(tmp_path: Path) -> None:
    """The installed `osteocds` entry point, in its own process."""
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    exe = Path(sys.executable).with_name("osteocds")
    done = subprocess.run([str(exe), "purge-issued-cards", "--older-than-days", "365",
                           "--database-url", url],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deleted 0 issued-card rows issued before ")


@pytest.mark.parametrize("argv", [["migrate"], ["feedback-report"],
                                  ["purge-issued-cards", "--older-than-days", "30"]])
def test_every_store_command_reports_a_bad_database_url_in_one_line(
        argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OSTEOCDS_DATABASE_URL", "mysql://nowhere/db")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("osteocds: configuration error: OSTEOCDS_DATABASE_URL must be")
    assert "Traceback" not in err
