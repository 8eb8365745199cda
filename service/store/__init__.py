"""Feedback, issued-card and JWT-replay storage behind one small interface (`Store`).

`open_store(settings)` picks the backend: PostgreSQL when `OSTEOCDS_DATABASE_URL` is a
`postgresql://` URL, SQLite for a `sqlite:///<path>` URL, and otherwise SQLite in
`OSTEOCDS_DATA_DIR/osteocds.sqlite3`.
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
)
from service.store.postgres import PostgresStore, is_postgres_url
from service.store.sqlite import SqliteStore

SQLITE_FILE_NAME = "osteocds.sqlite3"

__all__ = [
    "FeedbackEntry",
    "FeedbackReceipt",
    "IssuedCard",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "StoredFeedback",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store `settings` ask for (connections open lazily, one per thread)."""
    url = settings.database_url
    flush = settings.issued_cards_flush_seconds
    if not url:
        return SqliteStore(settings.data_dir / SQLITE_FILE_NAME, issued_cards_flush_seconds=flush)
    if is_postgres_url(url):
        return PostgresStore(url, issued_cards_flush_seconds=flush)
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), issued_cards_flush_seconds=flush)
    raise ConfigurationError(
        "OSTEOCDS_DATABASE_URL must be a postgresql:// or sqlite:///<path> URL "
        "(or unset for SQLite in OSTEOCDS_DATA_DIR)."
    )
