"""WAL checkpoints run in a background thread of each process, not in the hook call that commits
the 1,000th WAL page (SQLite's automatic checkpoint stalled one call in ~280 by 11-16 ms)."""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from service.store.sqlite import WAL_AUTOCHECKPOINT_PAGES, SqliteStore
from tests.waiting import wait_for

CARD = {"source": {"label": "x", "topic": {"system": "urn:t", "code": "topic"}}}


def _cards(count: int) -> list[dict]:
    return [{**CARD, "uuid": str(uuid.uuid4())} for _ in range(count)]


def _rows_in_database_file(store: SqliteStore, scratch: Path) -> int:
    """Issued-card rows in the database file alone, without its WAL: what checkpoints copied
    (-1 while not even the table has been copied)."""
    copy = scratch / "copy.sqlite3"
    shutil.copyfile(store.path, copy)
    connection = sqlite3.connect(copy)
    try:
        tables = connection.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'issued_cards'").fetchone()[0]
        if not tables:
            return -1
        return int(connection.execute("SELECT COUNT(*) FROM issued_cards").fetchone()[0])
    finally:
        connection.close()


def test_request_connections_only_checkpoint_as_a_backstop(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        store.record_issued_cards("svc", _cards(1))
        assert store.pragma("wal_autocheckpoint") == WAL_AUTOCHECKPOINT_PAGES
        relaxed = store._relaxed_connection()
        assert relaxed.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            WAL_AUTOCHECKPOINT_PAGES
        )
    finally:
        store.close()


def test_the_background_thread_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.05)
    try:
        store.migrate()
        for _ in range(20):
            store.record_issued_cards("svc", _cards(2))
        assert store.checkpointer.is_running()
        assert wait_for(lambda: _rows_in_database_file(store, tmp_path) == 40)
        assert store.checkpointer.checkpoints >= 1
    finally:
        store.close()


def test_without_a_checkpoint_the_rows_are_only_in_the_wal(tmp_path: Path) -> None:
    """The control of the test above: the copy does see what the WAL alone holds."""
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=3600)
    try:
        store.migrate()
        baseline = _rows_in_database_file(store, tmp_path)
        for _ in range(20):
            store.record_issued_cards("svc", _cards(2))
        time.sleep(0.2)
        assert _rows_in_database_file(store, tmp_path) == baseline
        assert store.checkpointer.checkpoints == 0
        assert len(list(store.iter_issued_cards())) == 40  # committed, in the WAL
    finally:
        store.close()


def test_close_stops_the_thread_and_the_next_use_starts_it_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.05)
    store.migrate()
    assert store.checkpointer.is_running()
    store.close()
    assert not store.checkpointer.is_running()
    assert not _checkpoint_threads_for(store)
    try:
        store.record_issued_cards("svc", _cards(1))
        assert store.checkpointer.is_running()
    finally:
        store.close()


def test_a_forked_worker_runs_its_own_checkpoint_thread(tmp_path: Path) -> None:
    """gunicorn forks workers after `create_app` used (and closed) the store: each worker's
    first connection starts a thread in that worker, whose checkpoints reach the file."""
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.05)
    store.migrate()
    store.close()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read_end)
        code = 1
        try:
            store.record_issued_cards("svc", _cards(3))
            running = store.checkpointer.is_running()
            copied = wait_for(lambda: _rows_in_database_file(store, tmp_path) == 3)
            os.write(write_end, f"{running} {copied}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    report = os.read(read_end, 100).decode()
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == "True True"
    assert not store.checkpointer.is_running()  # the parent's was stopped by close()


def test_a_store_that_is_garbage_collected_stops_its_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.05)
    store.migrate()
    threads = _checkpoint_threads_for(store)
    assert len(threads) == 1
    del store
    gc.collect()
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()


def test_the_thread_never_creates_a_missing_database_file(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.02)
    store.migrate()
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    caplog.set_level("WARNING", logger="service.store.background")
    store.checkpointer.ensure_running()
    try:
        assert wait_for(lambda: any("WAL checkpoint failed" in record.getMessage()
                                     for record in caplog.records))
        time.sleep(0.1)  # a few more attempts: still no file, still one warning
        assert not store.path.exists()
        assert len(caplog.records) == 1
    finally:
        store.checkpointer.stop()


def _checkpoint_threads_for(store: SqliteStore) -> list[threading.Thread]:
    thread = store.checkpointer.thread._thread
    return [thread] if thread is not None and thread.is_alive() else []


def test_an_in_memory_store_runs_no_checkpoint_thread() -> None:
    store = SqliteStore(Path(":memory:"))
    try:
        store.migrate()
        assert not store.checkpointer.is_running()
    finally:
        store.close()


def test_a_failing_checkpoint_is_logged_once_per_kind_and_retried(tmp_path: Path, caplog,
                                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "s.sqlite3", checkpoint_seconds=0.02)
    failures = iter([sqlite3.OperationalError("disk I/O error")] * 3)
    real_checkpoint = store.checkpointer.checkpoint

    def flaky(connection: sqlite3.Connection) -> tuple[int, int, int]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_checkpoint(connection)

    monkeypatch.setattr(store.checkpointer, "checkpoint", flaky)
    caplog.set_level("WARNING", logger="service.store.background")
    try:
        store.migrate()
        assert wait_for(lambda: store.checkpointer.checkpoints >= 1)
        messages = [record.getMessage() for record in caplog.records
                    if record.name == "service.store.background"]
        assert messages == ["WAL checkpoint failed (disk I/O error); retrying every 0.02 s",
                            "WAL checkpoint works again"]
    finally:
        store.close()
