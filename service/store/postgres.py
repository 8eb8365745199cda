"""PostgreSQL backend (psycopg 3), chosen when `OSTEOCDS_DATABASE_URL` is a postgresql URL.

Migrations run in one transaction holding `pg_advisory_xact_lock`, so several processes starting
together apply each migration once. `schema` (tests) puts every table in its own schema.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from service.store.issued import ISSUED_CARDS_FLUSH_SECONDS
from service.store.sql import SqlStore

# An arbitrary constant naming "osteocds migrations" among advisory locks.
MIGRATION_LOCK_KEY = 0x05_7E_0C_D5
CONNECT_TIMEOUT_SECONDS = 5
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(url: str | None) -> bool:
    """True for `postgresql://` and `postgres://` URLs."""
    return bool(url) and url.split(":", 1)[0] in {"postgresql", "postgres"}  # type: ignore[union-attr]


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, *, schema: str | None = None,
                 issued_cards_flush_seconds: float = ISSUED_CARDS_FLUSH_SECONDS) -> None:
        super().__init__(issued_cards_flush_seconds=issued_cards_flush_seconds)
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError("schema must be a lower-case SQL identifier")
        self._url = url
        self.schema = schema

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        if self.schema:
            identifier = sql.Identifier(self.schema)
            # Concurrent IF NOT EXISTS can still collide on the catalog's unique index.
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(identifier))
            connection.execute(sql.SQL("SET search_path TO {}").format(identifier))
        return connection

    @contextmanager
    def _transaction(self, connection: Any, *, write: bool) -> Iterator[psycopg.Cursor[Any]]:
        with connection.transaction(), connection.cursor() as cursor:
            yield cursor

    def _lock_for_migrations(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))

    def _is_disconnect(self, error: Exception) -> bool:
        return isinstance(error, psycopg.OperationalError)

    def _ts_in(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC)

    def _ts_out(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (test clean-up)."""
        if not self.schema:
            raise ValueError("drop_schema needs a store opened with a schema")
        connection = self._connection()
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
        )
