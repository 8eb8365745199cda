"""The store when its database fails (docs/operations.md, "Feedback store"): a hung PostgreSQL
fails a call within seconds and the call after it recovers succeeds on a new connection; a
refused, dropped or emptied database is `StoreUnavailable`, logged once and never with the URL;
readiness (`Store.ping`) checks the schema version and a write, within a short timeout.

PostgreSQL tests use OSTEOCDS_TEST_DATABASE_URL (skipped without it, like tests/store/
test_store.py) and, for the hang, a TCP proxy in the test (`tests.store.tcp_proxy`) that stops
forwarding: the kernel keeps acknowledging, as when the server hangs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from traceback import format_exception
from typing import Any

import pytest

from service.store import PostgresStore, SqliteStore, StoreUnavailable
from service.store.postgres import DEADLINE_MARGIN_SECONDS, STATEMENT_TIMEOUT_SECONDS
from service.store.sql import READINESS_TIMEOUT_SECONDS
from tests.live_service import free_port
from tests.store.tcp_proxy import TcpProxy

POSTGRES_URL = os.environ.get("OSTEOCDS_TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("OSTEOCDS_REQUIRE_POSTGRES") == "1"
ISS = "https://ehr.example"
EXPIRES = datetime.now(UTC) + timedelta(hours=2)
# The longest a hook call's store call may take when the server hangs: the statement's limit,
# the client-side deadline's margin, the watch thread's period and some slack.
HUNG_CALL_LIMIT = STATEMENT_TIMEOUT_SECONDS + DEADLINE_MARGIN_SECONDS + 1.5


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[tuple[Any, str]]:
    """(an autocommit admin connection, the name of a new empty database), dropped afterwards;
    skips when the test role may not create databases."""
    import psycopg

    _need_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES_URL or "", autocommit=True)
    try:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("the test role may not create databases")
        yield admin, name
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def _need_postgres() -> dict[str, Any]:
    """The test server's connection parameters, or skip (fail with OSTEOCDS_REQUIRE_POSTGRES)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    reason = None
    if not POSTGRES_URL:
        reason = "OSTEOCDS_TEST_DATABASE_URL is not set"
    else:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error as error:
            reason = ("PostgreSQL at OSTEOCDS_TEST_DATABASE_URL is unreachable: "
                      f"{type(error).__name__}")
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"OSTEOCDS_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return conninfo_to_dict(POSTGRES_URL or "")


def _schema() -> str:
    return f"osteocds_test_{uuid.uuid4().hex[:12]}"


class OneThread:
    """Calls on one thread (so on one thread-local connection), each with a time limit: a call
    still blocked past it fails the test instead of hanging it."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-store")

    def call(self, function: Callable[[], Any], limit: float = 30.0) -> tuple[Any, float]:
        """(result or raised exception, seconds taken)."""
        def timed() -> tuple[Any, float]:
            start = time.monotonic()
            try:
                outcome: Any = function()
            except Exception as error:
                outcome = error
            return outcome, time.monotonic() - start

        try:
            return self._executor.submit(timed).result(timeout=limit)
        except FutureTimeout:
            pytest.fail(f"the store call was still blocked after {limit} s")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def proxied() -> Iterator[tuple[PostgresStore, TcpProxy, OneThread]]:
    """A migrated PostgreSQL store reached through a proxy the test can pause."""
    from psycopg.conninfo import make_conninfo

    parameters = _need_postgres()
    proxy = TcpProxy(parameters.get("host") or "127.0.0.1", int(parameters.get("port") or 5432))
    store = PostgresStore(make_conninfo(POSTGRES_URL or "", host="127.0.0.1",
                                        port=str(proxy.port)), schema=_schema())
    direct = PostgresStore(POSTGRES_URL or "", schema=store.schema)
    worker = OneThread()
    store.migrate()
    yield store, proxy, worker
    proxy.close()
    worker.close()
    direct.drop_schema()
    direct.close()
    store.close()


@pytest.mark.postgres
def test_a_hung_postgres_fails_the_call_within_seconds_and_the_next_call_succeeds(
        proxied: tuple[PostgresStore, TcpProxy, OneThread]) -> None:
    """The audit's hang: connections open, no byte flowing. Before, the replay write waited
    for ever (every hook call past 45 s); now its connection is cut at the deadline, forgotten,
    and the first call after the server answers again opens a new one."""
    store, proxy, worker = proxied
    assert worker.call(lambda: store.remember_jti(ISS, "before", EXPIRES))[0] is True
    proxy.pause()
    error, seconds = worker.call(lambda: store.remember_jti(ISS, "during", EXPIRES))
    assert isinstance(error, StoreUnavailable), error
    assert error.kind == "timeout"
    assert seconds < HUNG_CALL_LIMIT
    assert store.deadlines.fired == 1
    proxy.resume()
    after, seconds = worker.call(lambda: store.remember_jti(ISS, "after", EXPIRES))
    assert after is True, after
    assert seconds < 2.0


@pytest.mark.postgres
def test_a_new_connection_to_a_hung_postgres_gives_up_at_the_connect_timeout(
        proxied: tuple[PostgresStore, TcpProxy, OneThread]) -> None:
    store, proxy, worker = proxied
    proxy.pause()  # this thread has no connection yet: connecting hangs
    error, seconds = worker.call(lambda: store.remember_jti(ISS, "new", EXPIRES))
    assert isinstance(error, StoreUnavailable), error
    assert (error.kind, error.cause) == ("timeout", "connecting timed out")
    assert seconds < HUNG_CALL_LIMIT
    proxy.resume()
    assert worker.call(lambda: store.remember_jti(ISS, "new", EXPIRES))[0] is True


@pytest.mark.postgres
def test_a_slow_statement_is_cancelled_by_the_server_and_its_connection_kept() -> None:
    _need_postgres()
    store = PostgresStore(POSTGRES_URL or "", schema=_schema())
    try:
        connection = store._connection()
        assert store._read("SHOW statement_timeout") == [("3s",)]
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store._read("SELECT pg_sleep(20)")
        assert time.monotonic() - start < STATEMENT_TIMEOUT_SECONDS + DEADLINE_MARGIN_SECONDS
        assert caught.value.kind == "timeout"
        assert store._connection() is connection  # cancelled by the server: still usable
        assert store._read("SELECT 1") == [(1,)]
    finally:
        store.drop_schema()
        store.close()


@pytest.mark.postgres
def test_connections_carry_the_connect_timeout_and_tcp_keepalives() -> None:
    _need_postgres()
    store = PostgresStore(POSTGRES_URL or "")
    try:
        options = {option.keyword.decode(): (option.val or b"").decode()
                   for option in store._connection().pgconn.info}
    finally:
        store.close()
    assert options["connect_timeout"] == "3"
    assert (options["keepalives"], options["keepalives_idle"], options["keepalives_interval"],
            options["keepalives_count"], options["tcp_user_timeout"]) == ("1", "10", "5", "3",
                                                                          "10000")


def test_a_refused_connection_is_unavailable_logged_once_without_the_url(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    store = PostgresStore(f"postgresql://osteocds:Zq7-secret@127.0.0.1:{port}/fracturedb")
    try:
        with caplog.at_level(logging.WARNING, logger="service.store"):
            for number in range(5):
                with pytest.raises(StoreUnavailable) as caught:
                    store.remember_jti(ISS, f"jti-{number}", EXPIRES)
    finally:
        store.close()
    assert str(caught.value) == (
        "OSTEOCDS_DATABASE_URL: the feedback store is unavailable (connection refused)")
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    assert "connection refused" in errors[0].getMessage()
    traceback = "".join(format_exception(caught.value))  # what a logger.exception shows
    for part in ("Zq7", "secret", "127.0.0.1", str(port), "fracturedb"):
        assert part not in caplog.text
        assert part not in traceback


@pytest.mark.postgres
def test_a_dropped_then_recreated_empty_database(caplog: pytest.LogCaptureFixture) -> None:
    """DROP DATABASE under a running service, then CREATE DATABASE without migrating:
    `StoreUnavailable` each time (503, not 500), readiness says why, and migrating recovers."""
    from psycopg.conninfo import make_conninfo

    with fresh_postgres_database("osteocds_dropped") as (admin, name):
        _dropped_then_recreated(admin, name, make_conninfo(POSTGRES_URL or "", dbname=name),
                                caplog)


def _dropped_then_recreated(admin: Any, name: str, url: str,
                            caplog: pytest.LogCaptureFixture) -> None:
    store = PostgresStore(url)
    try:
        store.migrate()
        assert store.remember_jti(ISS, "one", EXPIRES) is True
        store.ping()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        with caplog.at_level(logging.WARNING, logger="service.store"), \
                pytest.raises(StoreUnavailable) as caught:
            store.remember_jti(ISS, "two", EXPIRES)
        assert caught.value.cause == "the database does not exist"
        assert "available again" not in caplog.text
        admin.execute(f'CREATE DATABASE "{name}"')  # recreated empty: relation does not exist
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()
        assert caught.value.kind == "schema"
        with pytest.raises(StoreUnavailable) as caught:
            store.remember_jti(ISS, "three", EXPIRES)
        assert caught.value.kind == "schema"
        assert "migrate" in caught.value.cause
        with caplog.at_level(logging.WARNING, logger="service.store"):
            store.migrate()
            store.ping()
        assert "available again" in caplog.text
        assert store.remember_jti(ISS, "three", EXPIRES) is True
    finally:
        store.close()


# --- readiness -----------------------------------------------------------------------------

@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "osteocds.sqlite3"


def test_readiness_needs_the_schema_this_release_expects(sqlite_path: Path) -> None:
    store = SqliteStore(sqlite_path)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()  # never migrated
        assert caught.value.kind == "schema"
        store.migrate()
        store.ping()
        store._write(lambda cursor: cursor.execute("DROP TABLE jwt_replay"))
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()  # the table every hook call writes is gone
        assert caught.value.kind == "schema"
    finally:
        store.close()


def test_readiness_accepts_a_newer_schema_and_refuses_an_older_one(sqlite_path: Path) -> None:
    """A rolling upgrade migrates while the old release serves: a newer schema keeps it
    ready; an older one than this release needs does not."""
    store = SqliteStore(sqlite_path)
    try:
        store.migrate()
        expected = store.expected_schema_version()
        store._write(lambda cursor: cursor.execute(
            "INSERT INTO schema_version VALUES (?, 'from_the_future', 'x')", (expected + 1,)))
        store.ping()
        store._write(lambda cursor: cursor.execute("DELETE FROM schema_version"))
        with pytest.raises(StoreUnavailable, match="schema is at version 0"):
            store.ping()
    finally:
        store.close()


class ReadOnlyOpened(SqliteStore):
    """What SQLite does when the file or its directory is not writable as a connection opens:
    it opens the file read-only, reads work and every write fails."""

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)


def test_readiness_fails_when_the_store_can_be_read_but_not_written(sqlite_path: Path) -> None:
    """The audit: a read-only SQLite directory left /readyz green (`SELECT 1` works) while every
    replay write failed."""
    setup = SqliteStore(sqlite_path)
    setup.migrate()
    setup.close()
    store = ReadOnlyOpened(sqlite_path)
    try:
        assert store._read("SELECT 1") == [(1,)]
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()
        assert "readonly" in caught.value.cause
        with pytest.raises(StoreUnavailable):
            store.remember_jti(ISS, "x", EXPIRES)
        assert store._local.relaxed is None  # a read-only connection is replaced, not reused
    finally:
        store.close()


def test_readiness_answers_within_its_timeout_while_a_writer_holds_the_lock(
        sqlite_path: Path) -> None:
    store = SqliteStore(sqlite_path)
    store.migrate()
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.ping()
        assert time.monotonic() - start < READINESS_TIMEOUT_SECONDS + 1.0
        assert caught.value.kind == "timeout"
        holder.execute("ROLLBACK")
        store.ping()
    finally:
        holder.close()
        store.close()


def test_readiness_writes_an_expiring_row_and_hook_calls_purge_it(sqlite_path: Path) -> None:
    store = SqliteStore(sqlite_path)
    try:
        store.migrate()
        store.ping()
        store.ping()
        rows = store._read("SELECT iss, jti FROM jwt_replay")
        assert rows == [("urn:osteocds:readiness", "heartbeat")]
        store._write(lambda cursor: cursor.execute(
            "UPDATE jwt_replay SET expires_at = '2000-01-01T00:00:00.000000Z'"))
        store.remember_jti(ISS, "x", EXPIRES)
        assert store._read("SELECT iss FROM jwt_replay") == [(ISS,)]
    finally:
        store.close()


READ_ONLY_SCRIPT = """
import os, sys, threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from service.store import SqliteStore, StoreUnavailable
folder = Path(sys.argv[1])
store = SqliteStore(folder / "osteocds.sqlite3")
store.migrate()
store.remember_jti("https://ehr.example", "before", datetime.now(UTC) + timedelta(hours=1))
store.ping()
for name in os.listdir(folder):
    os.chmod(folder / name, 0o444)
os.chmod(folder, 0o555)
outcome = []
def probe():
    try:
        store.ping()
        outcome.append("ready")
    except StoreUnavailable as error:
        outcome.append(error.cause)
thread = threading.Thread(target=probe)  # a new thread: new connections
thread.start()
thread.join()
os.chmod(folder, 0o755)
print(outcome[0])
"""


def test_readiness_in_a_directory_made_read_only(tmp_path: Path) -> None:
    """The real thing: the database, its WAL and its directory made read-only under a running
    store; a new thread's connections open read-only. Root ignores file modes, so as root the
    child runs without CAP_DAC_OVERRIDE (`unprivileged`)."""
    import subprocess
    import sys

    folder = tmp_path / "data"
    folder.mkdir()
    try:
        result = subprocess.run(
            [*unprivileged(), sys.executable, "-c", READ_ONLY_SCRIPT, str(folder)],
            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
            timeout=60, check=False)
    finally:
        for path in [*folder.iterdir(), folder]:
            path.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "readonly" in result.stdout, result.stdout


def unprivileged() -> list[str]:
    """A command prefix under which file modes apply, or skip: as root, `setpriv` without the
    capabilities that bypass them."""
    import shutil

    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to apply")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
