"""The SQL implementation shared by the SQLite and PostgreSQL backends.

Subclasses provide connections, the lock taken around migrations, parameter style and timestamp
conversion; the statements themselves are the same for both dialects.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from service.store.issued import ISSUED_CARDS_FLUSH_SECONDS, IssuedCardQueue, IssuedRow
from service.store.model import (
    FEEDBACK_SOURCES,
    FeedbackEntry,
    FeedbackReceipt,
    IssuedCard,
    Store,
    StoredFeedback,
    StoreUnavailable,
    as_utc,
    card_topic,
    utc_now,
)

logger = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "service.store.migrations"
# Time limits (fixed; docs/operations.md, "Feedback store"). A hook call's statements get the
# backend's own limit (PostgreSQL: `postgres.STATEMENT_TIMEOUT_SECONDS`); readiness gets less, so
# /readyz answers within the probes' 3 s; the commands' long reads and migrations get more, and
# their failures are not logged by the store: the command (or start-up) reports them itself.
READINESS_TIMEOUT_SECONDS = 1.5
COMMAND_TIMEOUT_SECONDS = 300.0
OUTAGE_LOG_SECONDS = 60.0  # an unchanged cause is logged again at most this often
# The readiness write: one row of `jwt_replay` (the table every hook call writes), refreshed by
# each probe and purged like any expired replay row once the probes stop. Only a trusted issuer
# configured under exactly this name could share it (a token of its with this jti would then be
# refused once as a replay).
READINESS_ISSUER = "urn:osteocds:readiness"
READINESS_JTI = "heartbeat"
# 800 parameters a statement: within the 999 of SQLite builds before 3.32 and PostgreSQL's 65,535.
ISSUED_ROWS_PER_STATEMENT = 200
ISSUED_PURGE_BATCH = 10_000  # issued-card rows deleted a transaction by `purge_issued_cards`
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.([a-z]+)\.sql$")

_FEEDBACK_COLUMNS = (
    "f.card_uuid, f.service_id, f.outcome, f.outcome_at, f.received_at, f.source, "
    "f.accepted_suggestions, f.override_reason_system, f.override_reason_code, "
    "f.override_reason_display, f.override_comment, f.idempotency_key, c.topic"
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """The numbered migrations for `dialect` (`sqlite` or `postgresql`), in order."""
    found: list[Migration] = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match and match.group(3) == dialect:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return found


@functools.cache
def _latest_migration(dialect: str) -> int:
    return len(load_migrations(dialect))


def split_statements(script: str) -> list[str]:
    """Split a migration into statements (`;` at line end; `--` comment lines dropped)."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            buffer = []
    tail = "\n".join(buffer).strip()
    if tail:
        statements.append(tail)
    return statements


def issued_card_rows(service_id: str, cards: Sequence[Mapping[str, Any]],
                     issued_at: datetime | None = None) -> list[IssuedRow]:
    """(card uuid, topic, service id, issued at) of each card that has a uuid."""
    issued = as_utc(issued_at) if issued_at is not None else utc_now()
    return [(card["uuid"], card_topic(card), service_id, issued) for card in cards
            if isinstance(card.get("uuid"), str)]


class SqlStore(Store):
    """Store over a DB-API connection per thread. Statements use `%s`; SQLite rewrites it.

    Every operation runs in `_write`: a driver error that means the database cannot be used now
    (unreachable, timed out, read-only, a table missing) becomes `StoreUnavailable`, logged once
    per cause (not once per call), and a connection that broke is forgotten, so the next call
    opens a new one."""

    dialect = "sql"

    def __init__(self, *, issued_cards_flush_seconds: float = ISSUED_CARDS_FLUSH_SECONDS,
                 variable: str = "OSTEOCDS_DATABASE_URL") -> None:
        self.variable = variable  # the setting that names this store, for error messages
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._issued_inserts: dict[int, str] = {}
        self._outage: str | None = None  # the last cause, while the store is unavailable
        self._outage_logged: tuple[str, float] = ("", 0.0)  # the cause logged last, and when
        self._outage_announced = False  # an outage was logged and its end not yet
        self._outage_lock = threading.Lock()
        self.issued_cards = IssuedCardQueue(self._insert_issued_rows,
                                            period=issued_cards_flush_seconds)

    # -- backend hooks -------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _transaction(self, connection: Any, *, write: bool,
                     timeout: float | None = None) -> AbstractContextManager[Any]:
        """A transaction yielding a cursor; commits on success, rolls back on error.

        `write=True` takes the write lock up front (SQLite: BEGIN IMMEDIATE). `timeout`: the
        time limit of its statements when not the backend's default (None)."""

    @abstractmethod
    def _lock_for_migrations(self, cursor: Any) -> None: ...

    @abstractmethod
    def _ts_in(self, moment: datetime) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime: ...

    def _sql(self, statement: str) -> str:
        return statement

    def _deadline(self, connection: Any, timeout: float | None) -> AbstractContextManager[Any]:
        """A client-side limit around one transaction, yielding an object whose `fired` says
        whether it cut the connection (PostgreSQL); none here."""
        return _NO_DEADLINE_CONTEXT

    def _is_broken(self, connection: Any, error: Exception) -> bool:
        """Whether `connection` must not be used again after `error`."""
        return False

    def _unavailable(self, error: Exception, *, timed_out: bool,
                     timeout: float | None) -> StoreUnavailable | None:
        """`error` as `StoreUnavailable` when it means the database cannot be used now; None
        for any other error (a bug: it propagates as it is)."""
        return None

    def _closed(self, connection: Any) -> None:
        """Release what the backend kept beside `connection` (it is closed or broken)."""

    # -- connections ---------------------------------------------------------------------
    def _connection(self) -> Any:
        return self._thread_connection("connection")

    def _relaxed_connection(self) -> Any:
        """The connection for rows that may skip the fsync (JWT replay rows, issued cards): the
        main one here; SQLite keeps a second one at synchronous=NORMAL."""
        return self._connection()

    def _thread_connection(self, name: str, prepare: Callable[[Any], Any] | None = None) -> Any:
        """This thread's connection called `name`, opened (and `prepare`d) on first use."""
        connection = getattr(self._local, name, None)
        if connection is None:
            connection = self._connect()
            try:
                if prepare is not None:
                    prepare(connection)
            except BaseException:
                self._discard(connection)
                raise
            setattr(self._local, name, connection)
            self._local.opened = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _forget_connection(self, connection: Any) -> None:
        """Drop this thread's `connection` (broken): the next use opens a new one."""
        for name in ("connection", "relaxed"):
            if getattr(self._local, name, None) is connection:
                setattr(self._local, name, None)
        with self._connections_lock:
            if connection in self._connections:
                self._connections.remove(connection)
        self._discard(connection)

    def _discard(self, connection: Any) -> None:
        with contextlib.suppress(Exception):  # already broken; closing is best effort
            connection.close()
        self._closed(connection)

    def _write(self, work: Any, *, write: bool = True, relaxed: bool = False,
               timeout: float | None = None, log_outage: bool = True) -> Any:
        """Run `work(cursor)` in a transaction (on `_relaxed_connection` when `relaxed`) within
        `timeout` (None: the backend's limit for a hook call's statements).

        A connection this thread had kept open that turns out broken is replaced and the
        transaction retried once (the server restarted meanwhile); a new connection that fails,
        or one cut by the deadline, is not retried: the caller gets `StoreUnavailable` (logged
        once per cause unless `log_outage` is False)."""
        for attempt in (1, 2):
            self._local.opened = None
            try:
                connection = self._relaxed_connection() if relaxed else self._connection()
            except Exception as error:
                unavailable = self._store_unavailable(error, timed_out=False, timeout=timeout,
                                                      log=log_outage)
                if unavailable is None:
                    raise
                raise unavailable from None  # the driver's message quotes host, port, user
            fresh = self._local.opened is connection
            deadline: Any = _NO_DEADLINE
            try:
                with self._deadline(connection, timeout) as deadline, \
                        self._transaction(connection, write=write, timeout=timeout) as cursor:
                    result = work(cursor)
            except Exception as error:
                broken = self._is_broken(connection, error)
                if broken:
                    self._forget_connection(connection)
                if attempt == 1 and broken and not fresh and not deadline.fired:
                    continue
                unavailable = self._store_unavailable(error, timed_out=deadline.fired,
                                                      timeout=timeout, log=log_outage)
                if unavailable is None:
                    raise
                raise unavailable from None
            if self._outage is not None:
                self._note_recovery()
            return result
        raise AssertionError("unreachable")

    def _store_unavailable(self, error: Exception, *, timed_out: bool,
                           timeout: float | None, log: bool) -> StoreUnavailable | None:
        """`error` as the `StoreUnavailable` `_write` raises instead (logged once per cause when
        `log`; without the driver's error chained: its message quotes the host, port and user),
        or None when it is another error, raised as it is."""
        unavailable = self._unavailable(error, timed_out=timed_out, timeout=timeout)
        if unavailable is not None and log:
            self._note_outage(unavailable)
        return unavailable

    def _note_outage(self, error: StoreUnavailable) -> None:
        """Log the cause once: again only when it changes, or after `OUTAGE_LOG_SECONDS` (a
        store failing on some threads and working on others logs at most that often too)."""
        now = time.monotonic()
        with self._outage_lock:
            self._outage = error.cause
            cause, logged_at = self._outage_logged
            if cause == error.cause and now - logged_at < OUTAGE_LOG_SECONDS:
                return
            self._outage_logged = (error.cause, now)
            self._outage_announced = True
        logger.error("%s; hook and feedback calls answer 503 until it is back", error)

    def _note_recovery(self) -> None:
        """The first success after an outage; logged when its start was."""
        with self._outage_lock:
            if self._outage is None:
                return
            self._outage = None
            announced, self._outage_announced = self._outage_announced, False
        if announced:
            logger.warning("%s: the feedback store is available again", self.variable)

    def _read(self, statement: str, params: Sequence[Any] = (), *,
              timeout: float | None = None, log_outage: bool = True) -> list[Any]:
        def run(cursor: Any) -> list[Any]:
            cursor.execute(self._sql(statement), tuple(params))
            return list(cursor.fetchall())

        return self._write(run, write=False, timeout=timeout, log_outage=log_outage)

    def close(self) -> None:
        """Write the queued issued-card rows, stop their thread, close every connection."""
        self.issued_cards.close()
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            self._discard(connection)
        self._local = threading.local()

    # -- schema --------------------------------------------------------------------------
    def migrate(self) -> int:
        migrations = load_migrations(self.dialect)

        def apply(cursor: Any) -> int:
            self._lock_for_migrations(cursor)
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            current = int(cursor.fetchone()[0])
            for migration in migrations:
                if migration.version <= current:
                    continue
                for statement in split_statements(migration.sql):
                    cursor.execute(statement)
                cursor.execute(
                    self._sql(
                        "INSERT INTO schema_version (version, name, applied_at) "
                        "VALUES (%s, %s, %s)"
                    ),
                    (migration.version, migration.name, utc_now().isoformat()),
                )
                current = migration.version
            return current

        return self._write(apply, timeout=COMMAND_TIMEOUT_SECONDS, log_outage=False)

    def schema_version(self) -> int:
        try:
            rows = self._read("SELECT COALESCE(MAX(version), 0) FROM schema_version",
                              log_outage=False)
        except StoreUnavailable as error:
            if error.kind == "schema":  # no schema_version table: never migrated
                return 0
            raise
        return int(rows[0][0])

    def expected_schema_version(self) -> int:
        """The schema version this release needs: its latest migration."""
        return _latest_migration(self.dialect)

    def ping(self, timeout: float = READINESS_TIMEOUT_SECONDS) -> None:
        """Readiness: the schema is at least at `expected_schema_version()` (a newer one is
        fine: during a rolling upgrade the new release migrates while this one serves) and the
        store takes a committed write, the readiness row in `jwt_replay`, on the connection
        the hook calls' replay writes use, within `timeout` seconds."""
        expected = self.expected_schema_version()
        heartbeat = self._sql(
            "INSERT INTO jwt_replay (iss, jti, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at")
        expires = self._ts_in(utc_now() + timedelta(minutes=1))

        def probe(cursor: Any) -> int:
            cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version = int(cursor.fetchone()[0])
            if version >= expected:
                cursor.execute(heartbeat, (READINESS_ISSUER, READINESS_JTI, expires))
            return version

        version = self._write(probe, relaxed=True, timeout=timeout)
        if version < expected:
            error = StoreUnavailable(
                f"the schema is at version {version}, this release needs {expected}: "
                "run `osteocds migrate`", variable=self.variable, kind="schema")
            self._note_outage(error)
            raise error

    # -- feedback ------------------------------------------------------------------------
    def record_feedback(
        self,
        service_id: str,
        entries: Sequence[FeedbackEntry],
        *,
        source: str = "ehr",
        received_at: datetime | None = None,
    ) -> FeedbackReceipt:
        if source not in FEEDBACK_SOURCES:
            raise ValueError(f"unknown feedback source {source!r}")
        received = self._ts_in(as_utc(received_at or utc_now()))
        statement = self._sql(
            "INSERT INTO feedback (idempotency_key, card_uuid, service_id, outcome,"
            " override_reason_system, override_reason_code, override_reason_display,"
            " override_comment, accepted_suggestions, outcome_at, received_at, source)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (idempotency_key) DO NOTHING"
        )

        def insert(cursor: Any) -> FeedbackReceipt:
            recorded = 0
            for entry in entries:
                cursor.execute(statement, self._feedback_row(service_id, entry, received, source))
                recorded += max(cursor.rowcount, 0)
            return FeedbackReceipt(recorded=recorded, duplicates=len(entries) - recorded)

        return self._write(insert)

    def _feedback_row(
        self, service_id: str, entry: FeedbackEntry, received: Any, source: str
    ) -> tuple[Any, ...]:
        return (
            entry.idempotency_key(service_id),
            entry.card_uuid,
            service_id,
            entry.outcome,
            entry.override_reason_system,
            entry.override_reason_code,
            entry.override_reason_display,
            entry.override_comment,
            json.dumps(list(entry.accepted_suggestions)),
            self._ts_in(entry.outcome_at),
            received,
            source,
        )

    def iter_feedback(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        source: str | None = None,
    ) -> Iterator[StoredFeedback]:
        self.issued_cards.flush()  # topics of cards this process answered a moment ago
        conditions, params = self._window("f.received_at", since, until)
        if service_id is not None:
            conditions.append("f.service_id = %s")
            params.append(service_id)
        if source is not None:
            conditions.append("f.source = %s")
            params.append(source)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._read(
            f"SELECT {_FEEDBACK_COLUMNS} FROM feedback f"  # noqa: S608 - fixed fragments only
            f" LEFT JOIN issued_cards c ON c.card_uuid = f.card_uuid{where}"
            " ORDER BY f.received_at, f.id",
            params,
            timeout=COMMAND_TIMEOUT_SECONDS,
            log_outage=False,
        )
        for row in rows:
            yield StoredFeedback(
                card_uuid=row[0],
                service_id=row[1],
                outcome=row[2],
                outcome_at=self._ts_out(row[3]),
                received_at=self._ts_out(row[4]),
                source=row[5],
                accepted_suggestions=tuple(json.loads(row[6])),
                override_reason_system=row[7],
                override_reason_code=row[8],
                override_reason_display=row[9],
                override_comment=row[10],
                idempotency_key=row[11],
                topic=row[12],
            )

    def _window(
        self, column: str, since: datetime | None, until: datetime | None
    ) -> tuple[list[str], list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        if since is not None:
            conditions.append(f"{column} >= %s")
            params.append(self._ts_in(as_utc(since)))
        if until is not None:
            conditions.append(f"{column} < %s")
            params.append(self._ts_in(as_utc(until)))
        return conditions, params

    # -- issued cards --------------------------------------------------------------------
    def record_issued_cards(
        self,
        service_id: str,
        cards: Sequence[Mapping[str, Any]],
        *,
        issued_at: datetime | None = None,
    ) -> int:
        return self._insert_issued_rows(issued_card_rows(service_id, cards, issued_at))

    def queue_issued_cards(self, service_id: str, cards: Sequence[Mapping[str, Any]]) -> None:
        self.issued_cards.add(issued_card_rows(service_id, cards))

    def flush_issued_cards(self) -> int:
        return self.issued_cards.flush()

    def _insert_issued_rows(self, rows: Sequence[IssuedRow]) -> int:
        """One transaction, without an fsync in SQLite (`_relaxed_connection`), of multi-row
        INSERTs: `ISSUED_ROWS_PER_STATEMENT` rows a statement, so a second's rows cost a few
        statements instead of one each (SQLite releases the GIL around every statement: each
        was a hand-off between the worker's threads; docs/performance.md, "Round 9")."""
        if not rows:
            return 0

        def insert(cursor: Any) -> int:
            added = 0
            for start in range(0, len(rows), ISSUED_ROWS_PER_STATEMENT):
                chunk = rows[start:start + ISSUED_ROWS_PER_STATEMENT]
                params: list[Any] = []
                for card_uuid, topic, service, issued in chunk:
                    params += (card_uuid, topic, service, self._ts_in(issued))
                cursor.execute(self._issued_insert(len(chunk)), params)
                added += max(cursor.rowcount, 0)
            return added

        return self._write(insert, relaxed=True)

    def _issued_insert(self, row_count: int) -> str:
        """The INSERT of `row_count` issued-card rows (a duplicate uuid is skipped, not an error,
        within one statement too), in this backend's placeholders; remembered per count."""
        statement = self._issued_inserts.get(row_count)
        if statement is None:
            values = ", ".join(["(%s, %s, %s, %s)"] * row_count)  # placeholders only
            statement = self._sql(
                "INSERT INTO issued_cards (card_uuid, topic, service_id, issued_at)"  # noqa: S608
                f" VALUES {values} ON CONFLICT (card_uuid) DO NOTHING")
            self._issued_inserts[row_count] = statement
        return statement

    def iter_issued_cards(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[IssuedCard]:
        self.issued_cards.flush()  # this process's queued rows first
        conditions, params = self._window("issued_at", since, until)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._read(
            "SELECT card_uuid, service_id, issued_at, topic FROM issued_cards"  # noqa: S608
            f"{where} ORDER BY issued_at, card_uuid",
            params,
            timeout=COMMAND_TIMEOUT_SECONDS,
            log_outage=False,
        )
        for row in rows:
            yield IssuedCard(row[0], row[1], self._ts_out(row[2]), row[3])

    def purge_issued_cards(self, before: datetime, *, dry_run: bool = False) -> int:
        """In transactions of `ISSUED_PURGE_BATCH` rows, so the hook calls' own writes (SQLite
        has one writer at a time) wait for one batch at most, never for the whole purge."""
        self.issued_cards.flush()
        cutoff = self._ts_in(as_utc(before))
        if dry_run:
            rows = self._read("SELECT COUNT(*) FROM issued_cards WHERE issued_at < %s", (cutoff,),
                              timeout=COMMAND_TIMEOUT_SECONDS, log_outage=False)
            return int(rows[0][0])
        statement = self._sql(
            "DELETE FROM issued_cards WHERE card_uuid IN (SELECT card_uuid FROM issued_cards"
            " WHERE issued_at < %s LIMIT %s)")

        def delete_batch(cursor: Any) -> int:
            cursor.execute(statement, (cutoff, ISSUED_PURGE_BATCH))
            return max(cursor.rowcount, 0)

        deleted = 0
        while True:
            batch = self._write(delete_batch, timeout=COMMAND_TIMEOUT_SECONDS, log_outage=False)
            deleted += batch
            if batch < ISSUED_PURGE_BATCH:
                return deleted

    # -- JWT replay ----------------------------------------------------------------------
    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        now = self._ts_in(utc_now())
        expires = self._ts_in(as_utc(expires_at))

        def remember(cursor: Any) -> bool:
            cursor.execute(self._sql("DELETE FROM jwt_replay WHERE expires_at < %s"), (now,))
            cursor.execute(
                self._sql(
                    "INSERT INTO jwt_replay (iss, jti, expires_at) VALUES (%s, %s, %s)"
                    " ON CONFLICT (iss, jti) DO NOTHING"
                ),
                (iss, jti, expires),
            )
            return bool(cursor.rowcount == 1)

        return self._write(remember, relaxed=True)


class _NoDeadline:
    fired = False


_NO_DEADLINE = _NoDeadline()
_NO_DEADLINE_CONTEXT = contextlib.nullcontext(_NO_DEADLINE)  # reusable: no object per call
