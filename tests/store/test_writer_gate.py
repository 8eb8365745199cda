"""`WriterGate`: SQLite writers of this service take turns at a lock per process and a `flock`
across processes (real forked processes here), and the gate never becomes a way to fail."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.store import sqlite as sqlite_module
from service.store.sqlite import SqliteStore
from service.store.writer_gate import WriterGate
from tests.threads import run_in_threads

EXPIRES = datetime.now(UTC) + timedelta(minutes=30)


def test_a_forked_child_waits_for_the_parents_turn_and_then_gets_its_own(tmp_path: Path) -> None:
    """The child must not inherit the parent's turn: neither the held thread lock (it would
    never be released there) nor the flock (a shared file description excludes nothing)."""
    gate = WriterGate(tmp_path / "s.sqlite3")
    assert gate.acquire(timeout=1.0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            held_elsewhere = not gate.acquire(timeout=0.2)  # the parent holds its turn
            os.write(write_end, b"1")
            got_it_later = gate.acquire(timeout=5.0)  # after the parent's release
            gate.release()
            code = 0 if held_elsewhere and got_it_later else 3
        finally:
            os._exit(code)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"  # the child tried while the parent held the gate
    gate.release()
    _, status = os.waitpid(pid, 0)
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0
    assert gate.acquire(timeout=1.0)  # the parent's own gate still works
    gate.release()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "s.sqlite3")
    inside, most_inside = 0, 0
    count_lock = threading.Lock()

    def writer() -> None:
        nonlocal inside, most_inside
        for _ in range(200):
            assert gate.acquire(timeout=5.0)
            with count_lock:
                inside += 1
                most_inside = max(most_inside, inside)
            with count_lock:
                inside -= 1
            gate.release()

    run_in_threads(writer, 4)
    assert most_inside == 1
    assert gate.gave_up == 0


def test_replay_rows_from_two_processes_and_four_threads_each_are_refused_exactly_once(
        tmp_path: Path) -> None:
    """Every worker thread offers the same 60 jtis: each is accepted by exactly one writer in
    all, and no write fails (the gate orders them; SQLite's lock still decides)."""
    path = tmp_path / "s.sqlite3"
    SqliteStore(path).migrate()
    jtis = [uuid.uuid4().hex for _ in range(60)]
    results = tmp_path / "accepted"
    results.mkdir()

    def worker_process() -> int:
        store = SqliteStore(path)
        accepted: list[str] = []
        errors: list[BaseException] = []

        def thread_work() -> None:
            try:
                for jti in jtis:
                    if store.remember_jti("https://ehr.example", jti, EXPIRES):
                        accepted.append(jti)
            except BaseException as error:  # reported through the exit code
                errors.append(error)

        run_in_threads(thread_work, 4)
        (results / str(os.getpid())).write_text("\n".join(accepted))
        store.close()
        return 1 if errors else 0

    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                code = worker_process()
            finally:
                os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert codes == [0, 0]
    accepted = [line for file in results.iterdir() for line in file.read_text().split("\n")
                if line]
    assert sorted(accepted) == sorted(jtis)  # each once, none lost


def test_a_gate_that_cannot_be_had_in_time_is_given_up_and_the_write_goes_ahead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "GATE_TIMEOUT_SECONDS", 0.05)
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        gate = store.writer_gate
        assert gate is not None
        held = threading.Event()
        done = threading.Event()

        def hold() -> None:  # another thread keeps its turn without writing
            assert gate.acquire(timeout=1.0)
            held.set()
            done.wait(5.0)
            gate.release()

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5.0)
        assert store.remember_jti("https://ehr.example", "late", EXPIRES) is True
        assert gate.gave_up == 1
        done.set()
        holder.join()
        assert store.remember_jti("https://ehr.example", "late", EXPIRES) is False
        assert gate.gave_up == 1  # the gate was free again
    finally:
        store.close()


def test_no_lock_file_possible_means_sqlite_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        store.migrate()
        gate = store.writer_gate
        assert gate is not None
        gate.close()
        gate.lock_path.unlink()
        gate.lock_path.mkdir()  # the sidecar path cannot be opened as a file
        assert store.remember_jti("https://ehr.example", "x", EXPIRES) is True
        assert gate.gave_up == 1
    finally:
        store.close()


def test_the_lock_file_sits_beside_the_database_and_memory_stores_have_no_gate(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "feedback.sqlite3")
    try:
        store.migrate()
        assert (tmp_path / "feedback.sqlite3-writer.lock").is_file()
    finally:
        store.close()
    assert SqliteStore(Path(":memory:")).writer_gate is None
