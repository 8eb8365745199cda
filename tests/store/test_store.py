"""The feedback store on SQLite (always) and PostgreSQL (when OSTEOCDS_TEST_DATABASE_URL is set).

PostgreSQL tests use a schema unique to this run and drop it afterwards, so concurrent runs do
not collide. With OSTEOCDS_REQUIRE_POSTGRES=1 an unreachable server fails instead of skipping.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ConfigurationError
from service.store import FeedbackEntry, PostgresStore, SqliteStore, Store, open_store
from service.store.sql import load_migrations

POSTGRES_URL = os.environ.get("OSTEOCDS_TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("OSTEOCDS_REQUIRE_POSTGRES") == "1"


def _postgres_reachable() -> str | None:
    """None when reachable, else the reason."""
    if not POSTGRES_URL:
        return "OSTEOCDS_TEST_DATABASE_URL is not set"
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at OSTEOCDS_TEST_DATABASE_URL is unreachable: {type(error).__name__}"
    return None


def _need_postgres() -> None:
    reason = _postgres_reachable()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"OSTEOCDS_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_store(request, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes stores on ONE fresh database (several stores = several processes' view)."""
    opened: list[Store] = []
    schema = f"osteocds_test_{uuid.uuid4().hex[:12]}"
    if request.param == "postgresql":
        _need_postgres()

    def make() -> Store:
        if request.param == "sqlite":
            store: Store = SqliteStore(tmp_path / "feedback.sqlite3")
        else:
            store = PostgresStore(POSTGRES_URL or "", schema=schema)
        opened.append(store)
        return store

    yield make
    if request.param == "postgresql":
        opened[0].drop_schema()  # type: ignore[attr-defined]
    for store in opened:
        store.close()


@pytest.fixture
def store(new_store: StoreFactory) -> Store:
    store = new_store()
    store.migrate()
    return store


def entry(card: str = "card-1", outcome: str = "overridden", **changes) -> FeedbackEntry:
    values = {"card_uuid": card, "outcome": outcome, "outcome_timestamp": "2026-06-01T10:00:00Z"}
    values.update(changes)
    return FeedbackEntry(**values)


def test_migrations_are_numbered_and_exist_for_both_dialects() -> None:
    sqlite, postgres = load_migrations("sqlite"), load_migrations("postgresql")
    assert [m.version for m in sqlite] == [m.version for m in postgres]
    assert sqlite[0].version == 1


def test_migrate_is_idempotent(new_store: StoreFactory) -> None:
    store = new_store()
    assert store.schema_version() == 0
    latest = len(load_migrations(store.dialect))
    assert store.migrate() == latest
    assert store.migrate() == latest
    assert store.schema_version() == latest


def test_concurrent_migrations_apply_once(new_store: StoreFactory) -> None:
    stores = [new_store() for _ in range(4)]
    results: list[int] = []
    errors: list[BaseException] = []

    def migrate(store: Store) -> None:
        try:
            results.append(store.migrate())
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert results == [len(load_migrations(stores[0].dialect))] * 4


def test_feedback_round_trip_and_idempotency(store: Store) -> None:
    first = entry(override_reason_code="patient-declined", override_comment="no injections")
    receipt = store.record_feedback("svc", [first, first, entry(outcome="accepted",
                                                                  accepted_suggestions=("s1",))])
    assert (receipt.recorded, receipt.duplicates) == (2, 1)
    assert store.record_feedback("svc", [first]).duplicates == 1
    assert store.record_feedback("other-svc", [first]).recorded == 1  # another service: new
    rows = list(store.iter_feedback(service_id="svc"))
    assert [(r.outcome, r.override_reason_code, r.accepted_suggestions) for r in rows] == [
        ("overridden", "patient-declined", ()), ("accepted", None, ("s1",))]
    assert rows[0].override_comment == "no injections"
    assert rows[0].outcome_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def test_idempotency_key_covers_every_part_of_the_fact() -> None:
    base = entry()
    variants = [entry(card="card-2"), entry(outcome="accepted"),
                entry(outcome_timestamp="2026-06-01T10:00:01Z"),
                entry(accepted_suggestions=("s1",)), entry(override_reason_code="c"),
                entry(override_reason_system="s"), entry(override_reason_display="d"),
                entry(override_comment="x")]
    keys = {base.idempotency_key("svc"), base.idempotency_key("svc2")}
    keys |= {variant.idempotency_key("svc") for variant in variants}
    assert len(keys) == 2 + len(variants)
    assert entry(accepted_suggestions=("a", "b")).idempotency_key("s") == entry(
        accepted_suggestions=("b", "a")).idempotency_key("s")


def test_feedback_windows_sources_and_topics(store: Store) -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    store.record_issued_cards("svc", [{"uuid": "card-1", "source": {
        "label": "x", "topic": {"system": "urn:osteocds:card-topic", "code": "romo-propose"}}}])
    store.record_feedback("svc", [entry("card-1")], received_at=start)
    store.record_feedback("svc", [entry("card-2")], received_at=start + timedelta(days=1),
                          source="preview")
    rows = list(store.iter_feedback())
    assert [(r.card_uuid, r.topic, r.source) for r in rows] == [
        ("card-1", "romo-propose", "ehr"), ("card-2", None, "preview")]
    assert [r.card_uuid for r in store.iter_feedback(since=start + timedelta(hours=1))] == [
        "card-2"]
    assert [r.card_uuid for r in store.iter_feedback(until=start + timedelta(hours=1))] == [
        "card-1"]
    assert [r.card_uuid for r in store.iter_feedback(source="ehr")] == ["card-1"]
    with pytest.raises(ValueError, match="source"):
        store.record_feedback("svc", [entry()], source="elsewhere")


def test_issued_cards_are_deduplicated(store: Store) -> None:
    cards = [{"uuid": "c1", "source": {"label": "x"}}, {"uuid": "c2", "source": {
        "label": "x", "topic": {"system": "s", "code": "t"}}}, {"summary": "no uuid"}]
    assert store.record_issued_cards("svc", cards) == 2
    assert store.record_issued_cards("svc", cards) == 0
    issued = list(store.iter_issued_cards())
    assert [(c.card_uuid, c.topic, c.service_id) for c in issued] == [
        ("c1", None, "svc"), ("c2", "t", "svc")]


def test_more_issued_rows_than_one_statement_holds_land_once_each(store: Store) -> None:
    """Rows go in several multi-row INSERTs (`ISSUED_ROWS_PER_STATEMENT` each): every row lands
    with its own values, and a uuid seen before, or twice in one statement, is counted once."""
    from service.store.sql import ISSUED_ROWS_PER_STATEMENT

    total = 2 * ISSUED_ROWS_PER_STATEMENT + 7
    base = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    rows = [(f"u{n:04d}", f"topic-{n % 3}", f"svc-{n % 2}", base + timedelta(seconds=n))
            for n in range(total)]
    assert store._insert_issued_rows(rows[:5]) == 5
    repeated = rows[3:5] + rows[5:] + [rows[9], rows[ISSUED_ROWS_PER_STATEMENT + 1]]
    assert store._insert_issued_rows(repeated) == total - 5
    issued = {card.card_uuid: card for card in store.iter_issued_cards()}
    assert len(issued) == total
    for card_uuid, topic, service_id, issued_at in rows:
        card = issued[card_uuid]
        assert (card.topic, card.service_id, card.issued_at) == (topic, service_id, issued_at)


def test_purging_issued_cards_deletes_only_older_rows_batch_by_batch(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows issued before the cutoff go, in as many batches as needed; a row issued at the
    cutoff and later ones stay; a dry run counts; feedback stays, without its card's topic."""
    from service.store import sql

    monkeypatch.setattr(sql, "ISSUED_PURGE_BATCH", 3)
    cutoff = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    old = [(f"old{n}", "topic", "svc", cutoff - timedelta(days=1, seconds=n)) for n in range(7)]
    kept = [(f"new{n}", "topic", "svc", cutoff + timedelta(seconds=n)) for n in range(3)]
    assert store._insert_issued_rows(old + kept) == 10
    store.record_feedback("svc", [entry("old0", "accepted")])

    assert store.purge_issued_cards(cutoff, dry_run=True) == 7
    assert len(list(store.iter_issued_cards())) == 10
    assert store.purge_issued_cards(cutoff) == 7  # batches of 3, 3 and 1
    assert [card.card_uuid for card in store.iter_issued_cards()] == ["new0", "new1", "new2"]
    assert store.purge_issued_cards(cutoff) == 0
    [feedback] = store.iter_feedback()
    assert (feedback.card_uuid, feedback.topic) == ("old0", None)


def test_purging_a_whole_number_of_batches_stops_on_the_empty_one(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.store import sql

    monkeypatch.setattr(sql, "ISSUED_PURGE_BATCH", 2)
    cutoff = datetime(2026, 6, 1, tzinfo=UTC)
    rows = [(f"u{n}", None, "svc", cutoff - timedelta(hours=n + 1)) for n in range(4)]
    assert store._insert_issued_rows(rows) == 4
    assert store.purge_issued_cards(cutoff) == 4
    assert list(store.iter_issued_cards()) == []


def test_remember_jti_detects_replays_and_purges_expired(store: Store) -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert store.remember_jti("https://ehr.example", "jti-1", later) is True
    assert store.remember_jti("https://ehr.example", "jti-1", later) is False
    assert store.remember_jti("https://other.example", "jti-1", later) is True
    expired = datetime.now(UTC) - timedelta(seconds=1)
    assert store.remember_jti("https://ehr.example", "jti-old", expired) is True
    # The expired row is purged on the next call, so the id is not held forever.
    assert store.remember_jti("https://ehr.example", "jti-old", later) is True


def test_concurrent_feedback_writers_all_land(new_store: StoreFactory) -> None:
    stores = [new_store() for _ in range(4)]
    stores[0].migrate()

    def write(store: Store, worker: int) -> None:
        for number in range(10):
            store.record_feedback("svc", [entry(f"card-{worker}-{number}")])

    threads = [threading.Thread(target=write, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(list(stores[0].iter_feedback())) == 40


def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.sqlite3")
    try:
        store.migrate()
        assert store.pragma("journal_mode") == "wal"
        assert store.pragma("busy_timeout") >= 5000
        assert store.pragma("synchronous") == 2  # FULL
    finally:
        store.close()


def test_no_patient_identifier_columns(store: Store) -> None:
    """The tables hold card uuids and clinician choices only."""
    statement = "SELECT * FROM feedback"
    rows = store._read(statement + " WHERE 1 = 0")  # type: ignore[attr-defined]
    assert rows == []
    sql = "\n".join(
        line for m in load_migrations(store.dialect) for line in m.sql.lower().splitlines()
        if not line.lstrip().startswith("--"))
    for forbidden in ("patient", "birth", "name text", "mrn"):
        assert forbidden not in sql


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    default = open_store(Settings(data_dir=tmp_path, database_url=None))
    assert isinstance(default, SqliteStore)
    assert default.path == tmp_path / "osteocds.sqlite3"
    assert isinstance(open_store(Settings(database_url="postgresql://u@h/db")), PostgresStore)
    explicit = open_store(Settings(database_url=f"sqlite:///{tmp_path}/other.db"))
    assert isinstance(explicit, SqliteStore)
    assert explicit.path == tmp_path / "other.db"
    with pytest.raises(ConfigurationError, match="OSTEOCDS_DATABASE_URL"):
        open_store(Settings(database_url="mysql://x"))


@pytest.mark.parametrize(
    "timestamp", ["0000-00-00T00:00:00Z", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00+01:00"]
)
def test_impossible_outcome_timestamp_is_a_400_not_a_500(client, timestamp: str) -> None:
    body = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": timestamp}]}
    response = client.post("/cds-services/osteoporosis-patient-view/feedback", json=body)
    assert response.status_code == 400
    assert "outcomeTimestamp" in response.get_json()["issue"][0]["diagnostics"]
    assert timestamp not in response.get_data(as_text=True)


def _open_and_migrate(path: str) -> str | None:
    try:
        store = SqliteStore(Path(path))
        store.migrate()
        store.close()
    except Exception as error:  # reported to the parent process
        return repr(error)
    return None


def test_many_processes_opening_a_new_sqlite_database_at_once() -> None:
    """Gunicorn workers starting together: switching a new file to WAL can answer "database is
    locked" without SQLite's busy handler; the store retries. Before the retry about one round in
    40 of 12 processes failed; 40 rounds here."""
    import multiprocessing
    import tempfile

    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as folder, context.Pool(12) as pool:
        for round_number in range(40):
            path = str(Path(folder) / f"round-{round_number}.sqlite3")
            errors = [e for e in pool.map(_open_and_migrate, [path] * 12) if e]
            assert errors == [], errors[0]
