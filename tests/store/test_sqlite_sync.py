"""Issued-card and JWT replay rows commit with synchronous=NORMAL (no fsync per call); the
connection is back to FULL afterwards, so feedback stays fsynced, and the rows survive a `kill -9`
of the writing process (a real child process killed mid-run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.store.sqlite import SqliteStore

CARD = {"uuid": "", "source": {"label": "x", "topic": {"system": "urn:t", "code": "topic"}}}


def test_issued_cards_leave_the_connection_fully_synchronous(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        card = {**CARD, "uuid": str(uuid.uuid4())}
        assert store.record_issued_cards("svc", [card]) == 1
        assert store.pragma("synchronous") == 2  # FULL again
        assert [c.card_uuid for c in store.iter_issued_cards()] == [card["uuid"]]
    finally:
        store.close()


def test_replay_rows_leave_the_connection_fully_synchronous(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        expires = datetime.now(UTC) + timedelta(minutes=5)
        assert store.remember_jti("https://ehr.example", "jti-1", expires) is True
        assert store._local.relaxed.execute("PRAGMA synchronous").fetchone()[0] == 1  # used
        assert store.pragma("synchronous") == 2  # FULL again
        assert store.remember_jti("https://ehr.example", "jti-1", expires) is False
    finally:
        store.close()


def test_relaxed_rows_use_their_own_normal_connection(tmp_path: Path) -> None:
    """Issued cards and replay rows go through a second connection at NORMAL (1); several cards
    of one call land in one statement, duplicates are not counted twice."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        cards = [{**CARD, "uuid": str(uuid.uuid4())} for _ in range(3)]
        assert store.record_issued_cards("svc", cards) == 3
        assert store._relaxed_connection().execute("PRAGMA synchronous").fetchone()[0] == 1
        assert store.pragma("synchronous") == 2
        again = [cards[0], {**CARD, "uuid": str(uuid.uuid4())}, {"summary": "no uuid"}]
        assert store.record_issued_cards("svc", again) == 1
        stored = {c.card_uuid for c in store.iter_issued_cards()}
        assert stored == {c["uuid"] for c in cards} | {again[1]["uuid"]}
    finally:
        store.close()


WRITER = """
import sys, time, uuid
from datetime import UTC, datetime, timedelta
from service.store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1])
store.migrate()
card = {"uuid": sys.argv[2], "source": {"label": "x"}}
store.record_issued_cards("svc", [card])
expires = datetime.now(UTC) + timedelta(hours=1)
assert store.remember_jti("https://ehr.example", sys.argv[2], expires)
print("written", flush=True)
time.sleep(60)
"""


def test_issued_cards_and_replay_rows_survive_kill_9(tmp_path: Path) -> None:
    path, card_uuid = tmp_path / "k.sqlite3", str(uuid.uuid4())
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), card_uuid],
        stdout=subprocess.PIPE, text=True, cwd=root,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    store = SqliteStore(path)
    try:
        assert [c.card_uuid for c in store.iter_issued_cards()] == [card_uuid]
        # The token the killed worker accepted is still a replay for every other worker.
        expires = datetime.now(UTC) + timedelta(hours=1)
        assert store.remember_jti("https://ehr.example", card_uuid, expires) is False
    finally:
        store.close()
