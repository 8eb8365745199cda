"""Feedback, issued-card and JWT-replay storage behind one small interface (`Store`).

`open_store(settings)` picks the backend: PostgreSQL when `OSTEOCDS_DATABASE_URL` is a
`postgresql://` URL, SQLite for a `sqlite:///<path>` URL, and otherwise SQLite in
`OSTEOCDS_DATA_DIR/osteocds.sqlite3`.

A database that cannot be used now (unreachable, too slow, read-only, schema missing) raises
`StoreUnavailable` from any store call: the service answers 503, a command exits with status 2;
both name the setting, never its value. A PostgreSQL URL that cannot be read is refused here,
before any connection (`ConfigurationError`).
"""

from __future__ import annotations

from pathlib import Path

from service.config import Settings
from service.errors import ConfigurationError
from service.store.model import (
    FeedbackEntry,
    FeedbackReceipt,
    IssuedCard,
    Store,
    StoredFeedback,
    StoreUnavailable,
)
from service.store.postgres import DATABASE_URL, PostgresStore, is_postgres_url
from service.store.sqlite import DATA_DIR, SqliteStore

SQLITE_FILE_NAME = "osteocds.sqlite3"

__all__ = [
    "FeedbackEntry",
    "FeedbackReceipt",
    "IssuedCard",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "StoreUnavailable",
    "StoredFeedback",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store `settings` ask for (connections open lazily, one per thread)."""
    url = settings.database_url
    flush = settings.issued_cards_flush_seconds
    if not url:
        return SqliteStore(settings.data_dir / SQLITE_FILE_NAME, issued_cards_flush_seconds=flush,
                           variable=DATA_DIR)
    if is_postgres_url(url):
        return PostgresStore(url, issued_cards_flush_seconds=flush, variable=DATABASE_URL)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), issued_cards_flush_seconds=flush,
                           variable=DATABASE_URL)
    raise ConfigurationError(
        "OSTEOCDS_DATABASE_URL must be a postgresql:// or sqlite:///<path> URL "
        "(or unset for SQLite in OSTEOCDS_DATA_DIR)."
    )
