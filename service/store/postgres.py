"""PostgreSQL backend (psycopg 3), chosen when `OSTEOCDS_DATABASE_URL` is a postgresql URL.

Migrations run in one transaction holding `pg_advisory_xact_lock`, so several processes starting
together apply each migration once. `schema` (tests) puts every table in its own schema.

Time limits (fixed; docs/operations.md, "Feedback store"), so that a hung or unreachable server
fails a hook call within seconds instead of holding its thread:

- connecting: `connect_timeout` (`CONNECT_TIMEOUT_SECONDS`);
- each statement: the server's `statement_timeout` (`STATEMENT_TIMEOUT_SECONDS`, sent as
  `options=-c statement_timeout=...`; migrations and the commands' reads raise it for their
  transaction), and a client-side deadline one second later (`service.store.deadlines`) for a
  server that never answers at all: the connection is cut, forgotten and replaced;
- idle connections: TCP keepalives and `tcp_user_timeout` (`TCP_PARAMETERS`), so a connection to
  a vanished peer is noticed and closed by the kernel.

`connect_timeout`, keepalive and `tcp_user_timeout` parameters given in the URL take precedence.

The URL is checked before any connection (`check_postgres_url`): libpq reads a password holding
`@`, `#` or `/` as part of the host, port or database name and then repeats it in its error
messages. Errors name OSTEOCDS_DATABASE_URL and a fixed description of the cause, never any part
of the URL.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from service.errors import ConfigurationError
from service.store.deadlines import DeadlineWatch
from service.store.issued import ISSUED_CARDS_FLUSH_SECONDS
from service.store.model import StoreUnavailable
from service.store.sql import SqlStore

# An arbitrary constant naming "osteocds migrations" among advisory locks.
MIGRATION_LOCK_KEY = 0x05_7E_0C_D5
CONNECT_TIMEOUT_SECONDS = 3  # libpq's minimum is 2; per host address tried
STATEMENT_TIMEOUT_SECONDS = 3.0  # a hook call's statements (the JWT replay row: ~1 ms)
DEADLINE_MARGIN_SECONDS = 1.0  # the client-side deadline: the statement timeout + this
TCP_PARAMETERS = {
    "keepalives": "1",
    "keepalives_idle": "10",  # seconds idle before the first probe ...
    "keepalives_interval": "5",  # ... then one every 5 s ...
    "keepalives_count": "3",  # ... and the connection is dropped after 3 unanswered
    "tcp_user_timeout": "10000",  # ms: data sent and not acknowledged this long drops it too
}
DATABASE_URL = "OSTEOCDS_DATABASE_URL"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_HOST = re.compile(r"^[A-Za-z0-9._:%-]*$")  # a name, IPv4 or IPv6 address (or a socket dir)
_PERCENT_ENCODE = ("percent-encode a user name or password holding @ : / # ? % or a space "
                   "(@ as %40, : as %3A, / as %2F, # as %23, ? as %3F, % as %25, space as %20)")


def is_postgres_url(url: str | None) -> bool:
    """True for `postgresql://` and `postgres://` URLs."""
    return bool(url) and url.split(":", 1)[0] in {"postgresql", "postgres"}  # type: ignore[union-attr]


def check_postgres_url(url: str, variable: str = DATABASE_URL) -> dict[str, str]:
    """The libpq parameters of `url`, or `ConfigurationError` naming `variable` (never any part
    of the URL: a misread password would show in the host or database name)."""
    try:
        parameters = conninfo_to_dict(url)
    except psycopg.Error:
        raise ConfigurationError(
            f"{variable}: cannot be read as a postgresql://user:password@host:port/database "
            f"URL; {_PERCENT_ENCODE}") from None
    hosts = str(parameters.get("host", "")).split(",")
    if any(not host.startswith("/") and not _HOST.match(host) for host in hosts) or any(
            mark in str(parameters.get("dbname", "")) for mark in "@/"):
        raise ConfigurationError(
            f"{variable}: its host or database name is not valid (part of the user name or "
            f"password was probably read as one); {_PERCENT_ENCODE}")
    for port in str(parameters.get("port", "")).split(","):
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigurationError(
                f"{variable}: the port must be a number from 1 to 65535 (a password holding "
                f": or / is read as a port: {_PERCENT_ENCODE})")
    return {key: str(value) for key, value in parameters.items()}


def connection_parameters(url: str, variable: str = DATABASE_URL) -> dict[str, str]:
    """The URL's parameters with the time limits added (the URL's own take precedence, except
    `statement_timeout`, which the client-side deadline is built on)."""
    parameters = check_postgres_url(url, variable)
    parameters.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
    for key, value in TCP_PARAMETERS.items():
        parameters.setdefault(key, value)
    limit = f"-c statement_timeout={int(STATEMENT_TIMEOUT_SECONDS * 1000)}"
    parameters["options"] = f"{parameters.get('options', '')} {limit}".strip()
    return parameters


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, *, schema: str | None = None,
                 issued_cards_flush_seconds: float = ISSUED_CARDS_FLUSH_SECONDS,
                 variable: str = DATABASE_URL) -> None:
        super().__init__(issued_cards_flush_seconds=issued_cards_flush_seconds,
                         variable=variable)
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError("schema must be a lower-case SQL identifier")
        self._parameters = connection_parameters(url, variable)
        self.schema = schema
        self.deadlines = DeadlineWatch()
        self._sockets: dict[int, socket.socket] = {}  # id(connection): its descriptor's dup
        self._sockets_lock = threading.Lock()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(**self._parameters, autocommit=True)
        try:
            sock = socket.socket(fileno=os.dup(connection.pgconn.socket))
            with self._sockets_lock:
                self._sockets[id(connection)] = sock
            if self.schema:
                identifier = sql.Identifier(self.schema)
                # Concurrent IF NOT EXISTS can still collide on the catalog's unique index.
                with contextlib.suppress(psycopg.errors.UniqueViolation):
                    connection.execute(
                        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(identifier))
                connection.execute(sql.SQL("SET search_path TO {}").format(identifier))
        except BaseException:
            self._discard(connection)
            raise
        return connection

    def _closed(self, connection: Any) -> None:
        with self._sockets_lock:
            sock = self._sockets.pop(id(connection), None)
        if sock is not None:
            sock.close()

    @contextmanager
    def _deadline(self, connection: Any, timeout: float | None) -> Iterator[Any]:
        with self._sockets_lock:
            sock = self._sockets.get(id(connection))
        if sock is None:  # not opened by `_connect` (cannot happen): no deadline
            yield _UNARMED
            return
        limit = STATEMENT_TIMEOUT_SECONDS if timeout is None else timeout
        deadline = self.deadlines.arm(sock, limit + DEADLINE_MARGIN_SECONDS)
        try:
            yield deadline
        finally:
            self.deadlines.disarm(deadline)

    @contextmanager
    def _transaction(self, connection: Any, *, write: bool,
                     timeout: float | None = None) -> Iterator[psycopg.Cursor[Any]]:
        with connection.transaction(), connection.cursor() as cursor:
            if timeout is not None:  # this transaction only
                cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                               (f"{int(timeout * 1000)}ms",))
            yield cursor

    def _lock_for_migrations(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))

    def _is_broken(self, connection: Any, error: Exception) -> bool:
        return bool(connection.broken or connection.closed)

    def _unavailable(self, error: Exception, *, timed_out: bool,
                     timeout: float | None) -> StoreUnavailable | None:
        if timed_out:
            limit = (STATEMENT_TIMEOUT_SECONDS if timeout is None else timeout)
            cause, kind = f"no answer within {limit + DEADLINE_MARGIN_SECONDS:g} s", "timeout"
        else:
            described = describe_postgres_error(error)
            if described is None:
                return None
            cause, kind = described
        return StoreUnavailable(cause, variable=self.variable, kind=kind)

    def close(self) -> None:
        super().close()
        self.deadlines.stop()

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


_CONNECTION_TIMEOUT = getattr(psycopg.errors, "ConnectionTimeout", ())  # not in every psycopg 3
# (SQLSTATE prefix, cause, kind); the first match wins.
_SQLSTATE_CAUSES = (
    ("57014", "a statement ran past its time limit", "timeout"),
    ("42P01", "a table is missing: run `osteocds migrate`", "schema"),
    ("25006", "the database is read-only", "unavailable"),
    ("3D000", "the database does not exist", "unavailable"),
    ("28", "authentication failed", "unavailable"),
    ("53", "the server is out of resources (disk, memory or connections)", "unavailable"),
    ("57P", "the server ended the connection (shut down, restarted, or an administrator)",
     "unavailable"),
    ("08", "the connection failed", "unavailable"),
)
# (words of libpq's message, cause, kind) for errors without SQLSTATE (most connection errors).
_MESSAGE_CAUSES = (
    (("timeout expired",), "connecting timed out", "timeout"),
    (("connection refused",), "connection refused", "unavailable"),
    (("could not translate host name",), "the host name cannot be resolved", "unavailable"),
    (("failed to resolve host",), "the host name cannot be resolved", "unavailable"),
    (("name or service not known",), "the host name cannot be resolved", "unavailable"),
    (("no route to host",), "no route to the host", "unavailable"),
    (("network is unreachable",), "no route to the host", "unavailable"),
    (("does not exist", "database"), "the database does not exist", "unavailable"),
    (("does not exist", "role"), "authentication failed", "unavailable"),
    (("authentication",), "authentication failed", "unavailable"),
    (("password",), "authentication failed", "unavailable"),
    (("pg_hba.conf",), "the server refuses this client (pg_hba.conf)", "unavailable"),
    (("too many clients",), "the server is out of resources (disk, memory or connections)",
     "unavailable"),
    (("remaining connection slots",),
     "the server is out of resources (disk, memory or connections)", "unavailable"),
    (("starting up",), "the server is shutting down or restarting", "unavailable"),
    (("shutting down",), "the server is shutting down or restarting", "unavailable"),
    (("closed",), "the connection was lost", "unavailable"),
    (("terminat",), "the connection was lost", "unavailable"),
    (("lost",), "the connection was lost", "unavailable"),
    (("eof",), "the connection was lost", "unavailable"),
    (("ssl",), "TLS negotiation failed", "unavailable"),
    (("invalid port",), "the port must be a number from 1 to 65535", "unavailable"),
    (("invalid integer value",), "a connection parameter is not a number", "unavailable"),
    (("invalid",), "a connection parameter is invalid", "unavailable"),
)


class _Unarmed:
    fired = False


_UNARMED = _Unarmed()


def describe_postgres_error(error: BaseException) -> tuple[str, str] | None:
    """(cause, kind) of a psycopg error meaning the database cannot be used now; None for an
    error of the statement itself. The cause is a fixed phrase: libpq's messages quote the host,
    port, user and database name, so they are never repeated."""
    if isinstance(error, _CONNECTION_TIMEOUT):
        return "connecting timed out", "timeout"
    sqlstate = getattr(error, "sqlstate", None) or ""
    if sqlstate:
        for prefix, cause, kind in _SQLSTATE_CAUSES:
            if sqlstate.startswith(prefix):
                return cause, kind
    if not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return None
    message = re.sub(r'"[^"]*"', '""', str(error).lower())  # not the names it quotes
    for words, cause, kind in _MESSAGE_CAUSES:
        if all(word in message for word in words):
            return cause, kind
    return f"{type(error).__name__} from the database driver", "unavailable"
