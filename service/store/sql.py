"""The SQL implementation shared by the SQLite and PostgreSQL backends.

Subclasses provide connections, the lock taken around migrations, parameter style and timestamp
conversion; the statements themselves are the same for both dialects.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
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
    as_utc,
    card_topic,
    utc_now,
)

MIGRATIONS_PACKAGE = "service.store.migrations"
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
    """Store over a DB-API connection per thread. Statements use `%s`; SQLite rewrites it."""

    dialect = "sql"

    def __init__(self, *, issued_cards_flush_seconds: float = ISSUED_CARDS_FLUSH_SECONDS) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._issued_inserts: dict[int, str] = {}
        self.issued_cards = IssuedCardQueue(self._insert_issued_rows,
                                            period=issued_cards_flush_seconds)

    # -- backend hooks -------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _transaction(self, connection: Any, *, write: bool) -> AbstractContextManager[Any]:
        """A transaction yielding a cursor; commits on success, rolls back on error.

        `write=True` takes the write lock up front (SQLite: BEGIN IMMEDIATE)."""

    @abstractmethod
    def _lock_for_migrations(self, cursor: Any) -> None: ...

    @abstractmethod
    def _ts_in(self, moment: datetime) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime: ...

    def _sql(self, statement: str) -> str:
        return statement

    def _is_disconnect(self, error: Exception) -> bool:
        return False

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
            if prepare is not None:
                prepare(connection)
            setattr(self._local, name, connection)
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _forget_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._connections_lock:
                if connection in self._connections:
                    self._connections.remove(connection)
            with contextlib.suppress(Exception):  # already broken; closing is best effort
                connection.close()

    def _write(self, work: Any, *, write: bool = True, relaxed: bool = False) -> Any:
        """Run `work(cursor)` in a transaction (on `_relaxed_connection` when `relaxed`); retry
        once on a dropped connection."""
        for attempt in (1, 2):
            connection = self._relaxed_connection() if relaxed else self._connection()
            try:
                with self._transaction(connection, write=write) as cursor:
                    return work(cursor)
            except Exception as error:
                if attempt == 1 and self._is_disconnect(error):
                    self._forget_connection()
                    continue
                raise
        raise AssertionError("unreachable")

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        def run(cursor: Any) -> list[Any]:
            cursor.execute(self._sql(statement), tuple(params))
            return list(cursor.fetchall())

        return self._write(run, write=False)

    def close(self) -> None:
        """Write the queued issued-card rows, stop their thread, close every connection."""
        self.issued_cards.close()
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(Exception):  # closing is best effort
                connection.close()
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

        return self._write(apply)

    def schema_version(self) -> int:
        try:
            rows = self._read("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        except Exception as error:
            if "schema_version" in str(error):
                return 0
            raise
        return int(rows[0][0])

    def ping(self) -> None:
        self._read("SELECT 1")

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
        )
        for row in rows:
            yield IssuedCard(row[0], row[1], self._ts_out(row[2]), row[3])

    def purge_issued_cards(self, before: datetime, *, dry_run: bool = False) -> int:
        """In transactions of `ISSUED_PURGE_BATCH` rows, so the hook calls' own writes (SQLite
        has one writer at a time) wait for one batch at most, never for the whole purge."""
        self.issued_cards.flush()
        cutoff = self._ts_in(as_utc(before))
        if dry_run:
            rows = self._read("SELECT COUNT(*) FROM issued_cards WHERE issued_at < %s", (cutoff,))
            return int(rows[0][0])
        statement = self._sql(
            "DELETE FROM issued_cards WHERE card_uuid IN (SELECT card_uuid FROM issued_cards"
            " WHERE issued_at < %s LIMIT %s)")

        def delete_batch(cursor: Any) -> int:
            cursor.execute(statement, (cutoff, ISSUED_PURGE_BATCH))
            return max(cursor.rowcount, 0)

        deleted = 0
        while True:
            batch = self._write(delete_batch)
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
