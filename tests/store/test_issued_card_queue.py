"""Issued-card rows are written behind the hook calls (`service.store.issued`): queued without
I/O, written by a background thread every period in one transaction, at once for readers in the
same process, on close and at interpreter exit; a failing store keeps them (bounded)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.store import FeedbackEntry, SqliteStore
from service.store.issued import IssuedCardQueue, IssuedRow
from tests.threads import run_in_threads
from tests.waiting import wait_for

TOPIC = {"system": "urn:osteocds:card-topic", "code": "romosozumab-proposal"}


def _cards(count: int) -> list[dict]:
    return [{"uuid": str(uuid.uuid4()), "source": {"label": "x", "topic": TOPIC}}
            for _ in range(count)]


def _uuids_in_file(path: Path) -> set[str]:
    """What another process would read: a fresh store on the same file."""
    reader = SqliteStore(path, issued_cards_flush_seconds=0)
    try:
        return {card.card_uuid for card in reader.iter_issued_cards()}
    finally:
        reader.close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.sqlite3"
    SqliteStore(path).migrate()
    return path


def test_queued_rows_wait_for_the_flush_then_land_in_one_write(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=60)
    try:
        cards = _cards(3)
        store.queue_issued_cards("svc", cards[:2])
        store.queue_issued_cards("svc", cards[2:])
        assert store.issued_cards.pending() == 3
        assert _uuids_in_file(store_path) == set()  # not written yet
        assert store.flush_issued_cards() == 3
        assert _uuids_in_file(store_path) == {card["uuid"] for card in cards}
        assert store.flush_issued_cards() == 0
    finally:
        store.close()


def test_the_background_thread_writes_them_within_the_period(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=0.05)
    try:
        cards = _cards(2)
        store.queue_issued_cards("svc", cards)
        assert store.issued_cards.thread.is_running()
        assert wait_for(lambda: _uuids_in_file(store_path) == {c["uuid"] for c in cards})
        stored = store.iter_issued_cards()
        assert {(card.service_id, card.topic) for card in stored} == {
            ("svc", "romosozumab-proposal")}
    finally:
        store.close()
    assert not store.issued_cards.thread.is_running()


def test_a_period_of_zero_writes_in_the_call(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=0)
    try:
        cards = _cards(2)
        store.queue_issued_cards("svc", cards)
        assert _uuids_in_file(store_path) == {card["uuid"] for card in cards}
        assert not store.issued_cards.thread.is_running()
    finally:
        store.close()


def test_readers_in_the_same_process_see_queued_rows_at_once(store_path: Path) -> None:
    """The feedback report's topic join and the issued-card list flush first."""
    store = SqliteStore(store_path, issued_cards_flush_seconds=60)
    try:
        card = _cards(1)[0]
        store.queue_issued_cards("svc", [card])
        store.record_feedback("svc", [FeedbackEntry(
            card_uuid=card["uuid"], outcome="accepted",
            outcome_timestamp="2026-11-01T10:00:00Z")])
        assert [stored.topic for stored in store.iter_feedback()] == ["romosozumab-proposal"]
        assert [stored.card_uuid for stored in store.iter_issued_cards()] == [card["uuid"]]
    finally:
        store.close()


def test_close_writes_what_is_queued(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=60)
    cards = _cards(4)
    store.queue_issued_cards("svc", cards)
    store.close()
    assert _uuids_in_file(store_path) == {card["uuid"] for card in cards}


EXITING_WORKER = """
import sys
from service.store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1], issued_cards_flush_seconds=60)
store.queue_issued_cards("svc", [{"uuid": sys.argv[2], "source": {"label": "x"}}])
sys.exit(0)  # no close(): the interpreter's exit writes the row
"""


def test_a_process_that_exits_writes_its_queued_rows(store_path: Path) -> None:
    card_uuid = str(uuid.uuid4())
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", EXITING_WORKER, str(store_path), card_uuid],
                   cwd=root, check=True, timeout=60)
    assert _uuids_in_file(store_path) == {card_uuid}


def test_a_forked_child_writes_only_its_own_rows(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=60)
    parent_cards, child_cards = _cards(2), _cards(1)
    store.queue_issued_cards("svc", parent_cards)
    pid = os.fork()
    if pid == 0:  # the child: its queue starts empty, its own row is written on close
        status = 1
        try:
            if store.issued_cards.pending() == 0:
                store.queue_issued_cards("svc", child_cards)
                store.close()
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    try:
        assert os.waitstatus_to_exitcode(status) == 0
        assert _uuids_in_file(store_path) == {child_cards[0]["uuid"]}
        assert store.issued_cards.pending() == 2
    finally:
        store.close()
    assert _uuids_in_file(store_path) == {c["uuid"] for c in parent_cards + child_cards}


def test_concurrent_calls_and_flushes_write_every_row_once(store_path: Path) -> None:
    store = SqliteStore(store_path, issued_cards_flush_seconds=0.01)
    written: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(50):
            cards = _cards(2)
            store.queue_issued_cards("svc", cards)
            with lock:
                written.extend(card["uuid"] for card in cards)
            if len(written) % 7 == 0:
                store.flush_issued_cards()

    try:
        run_in_threads(call, 6)
        stored = [card.card_uuid for card in store.iter_issued_cards()]
        assert sorted(stored) == sorted(written)
        assert len(stored) == 600
    finally:
        store.close()


class FlakyWriter:
    """A `write` that fails while `down` is set and records what it wrote."""

    def __init__(self) -> None:
        self.down = True
        self.rows: list[IssuedRow] = []

    def __call__(self, rows: Sequence[IssuedRow]) -> int:
        if self.down:
            raise OSError("disk full")
        self.rows.extend(rows)
        return len(rows)


def _rows(count: int) -> list[IssuedRow]:
    now = datetime.now(UTC)
    return [(str(uuid.uuid4()), None, "svc", now) for _ in range(count)]


def test_rows_wait_while_the_store_fails_and_the_oldest_go_beyond_the_bound(caplog) -> None:  # type: ignore[no-untyped-def]
    writer = FlakyWriter()
    queue = IssuedCardQueue(writer, period=60, max_pending=10)
    first, second = _rows(6), _rows(6)
    queue.add(first)
    with pytest.raises(OSError, match="disk full"):
        queue.flush()
    assert queue.pending() == 6
    assert queue.dropped == 0
    caplog.set_level("WARNING", logger="service.store.issued")
    with pytest.raises(OSError, match="disk full"):
        queue.add(second)  # reaches the bound: the caller tries to write, which fails
    assert queue.pending() == 10
    assert queue.dropped == 2
    assert "dropped the 2 oldest issued-card rows" in caplog.text
    writer.down = False
    assert queue.flush() == 10
    assert writer.rows == first[2:] + second  # in order, the oldest two gone
    queue.close()


def test_a_failing_background_write_is_logged_once_and_retried(caplog) -> None:  # type: ignore[no-untyped-def]
    writer = FlakyWriter()
    queue = IssuedCardQueue(writer, period=0.02)
    caplog.set_level("WARNING", logger="service.store.background")
    rows = _rows(3)
    queue.add(rows)
    try:
        assert wait_for(lambda: "Issued-card write failed" in caplog.text)
        time.sleep(0.1)
        writer.down = False
        assert wait_for(lambda: writer.rows == rows)
        messages = [record.getMessage() for record in caplog.records]
        assert messages == ["Issued-card write failed (disk full); retrying every 0.02 s",
                            "Issued-card write works again"]
    finally:
        queue.close()
