"""`osteocds feedback-report` over real stores: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from service.cli import main
from service.config import Settings
from service.protocol.state import protocol_state
from service.store import FeedbackEntry, SqliteStore, Store, open_store
from tests.conftest import post_json
from tests.personas.persona_cases import AS_OF, Case

REASON_SYSTEM = "urn:osteocds:override-reason"
PG_URL = os.environ.get("OSTEOCDS_TEST_DATABASE_URL")


def card(card_uuid: str, topic: str) -> dict:
    return {"uuid": card_uuid, "summary": "s", "indicator": "info",
            "source": {"label": "l", "topic": {"system": "urn:osteocds:card-topic", "code": topic}}}


def override(card_uuid: str, code: str, display: str, at: str) -> FeedbackEntry:
    return FeedbackEntry(card_uuid, "overridden", at, override_reason_system=REASON_SYSTEM,
                         override_reason_code=code, override_reason_display=display)


def accept(card_uuid: str, at: str) -> FeedbackEntry:
    return FeedbackEntry(card_uuid, "accepted", at, accepted_suggestions=("s1",))


def fill(store: Store) -> None:
    """Three proposals (1 accepted, 2 overridden), one overdue card, feedback for an unknown card,
    and preview feedback that the default report leaves out."""
    jan, jun = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 6, 10, tzinfo=UTC)
    store.record_issued_cards("osteocds-patient-view", [card("old", "romosozumab-proposal")],
                              issued_at=jan)
    store.record_feedback("osteocds-patient-view", [accept("old", "2026-01-10T10:00:00Z")],
                          received_at=jan)
    store.record_issued_cards("osteocds-patient-view", [
        card("p1", "romosozumab-proposal"), card("p2", "romosozumab-proposal"),
        card("p3", "romosozumab-proposal"), card("d1", "denosumab-overdue")], issued_at=jun)
    store.record_feedback("osteocds-patient-view", [
        accept("p1", "2026-06-10T10:00:00Z"),
        override("p2", "cv-risk-too-high", "Cardiovascular risk judged too high",
                 "2026-06-10T10:01:00Z"),
        override("p3", "cv-risk-too-high", "Cardiovascular risk judged too high",
                 "2026-06-10T10:02:00Z"),
        override("d1", "patient-declined", "Patient declined", "2026-06-10T10:03:00Z"),
        override("never-issued", "other", "Other", "2026-06-10T10:04:00Z"),
    ], received_at=jun)
    store.record_feedback("osteocds-patient-view", [
        override("p1", "cost-or-coverage", "Cost or coverage", "2026-06-10T11:00:00Z")],
        source="preview", received_at=jun)


def report_json(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["feedback-report", "--json", "--database-url", url, *args]) == 0
    return json.loads(capsys.readouterr().out)


def check_reports(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    full = {t["topic"]: t for t in report_json(url, capsys=capsys)["topics"]}
    proposal = full["romosozumab-proposal"]
    assert (proposal["issued"], proposal["feedback"], proposal["accepted"],
            proposal["overridden"]) == (4, 4, 2, 2)
    assert proposal["acceptanceRate"] == 0.5
    assert proposal["reasons"] == [{"system": REASON_SYSTEM, "code": "cv-risk-too-high",
                                    "display": "Cardiovascular risk judged too high", "count": 2}]
    assert full["denosumab-overdue"]["overrideRate"] == 1.0
    assert full["unknown"]["feedback"] == 1
    assert full["unknown"]["reasons"][0]["display"] == "Other"

    recent = {t["topic"]: t for t in report_json(url, "--since", "2026-06-01",
                                                 capsys=capsys)["topics"]}
    assert (recent["romosozumab-proposal"]["issued"],
            recent["romosozumab-proposal"]["accepted"]) == (3, 1)

    with_preview = {t["topic"]: t for t in report_json(url, "--include-preview",
                                                       capsys=capsys)["topics"]}
    codes = {r["code"] for r in with_preview["romosozumab-proposal"]["reasons"]}
    assert codes == {"cv-risk-too-high", "cost-or-coverage"}

    assert main(["feedback-report", "--database-url", url]) == 0
    text = capsys.readouterr().out
    assert "romosozumab-proposal" in text
    assert "2 (50%)" in text
    assert "Cardiovascular risk judged too high (urn:osteocds:override-reason | " \
           "cv-risk-too-high): 2" in text
    assert "preview feedback excluded" in text


def test_feedback_report_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SqliteStore(tmp_path / "fb.sqlite3")
    store.migrate()
    fill(store)
    store.close()
    check_reports(f"sqlite:///{tmp_path / 'fb.sqlite3'}", capsys)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("OSTEOCDS_REQUIRE_POSTGRES") == "1":
            pytest.fail("OSTEOCDS_REQUIRE_POSTGRES=1 but OSTEOCDS_TEST_DATABASE_URL is unset")
        pytest.skip("OSTEOCDS_TEST_DATABASE_URL is not set (PostgreSQL store not tested)")
    import psycopg

    schema = f"fbreport_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_feedback_report_on_postgres(postgres_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(Settings(database_url=postgres_url))
    store.migrate()
    fill(store)
    store.close()
    check_reports(postgres_url, capsys)


def test_empty_store_and_the_real_command(tmp_path: Path) -> None:
    """The installed `osteocds` entry point runs in its own process."""
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    exe = Path(sys.executable).with_name("osteocds")
    done = subprocess.run([str(exe), "feedback-report", "--database-url", url],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "No cards issued and no feedback recorded." in done.stdout


def test_feedback_on_real_cards_is_reported_under_their_topic(make_app, data_dir: Path,
                                                              capsys) -> None:
    """End to end: real cards over HTTP, feedback with one of their override reasons, report."""
    app = make_app(dev_as_of=AS_OF)
    client = app.test_client()
    case = Case("p03", "patient-view", None, frozenset())
    cards = post_json(client, case.path, case.request()).get_json()["cards"]
    by_code = {c["source"]["topic"]["code"]: c for c in cards}
    proposal, caution = by_code["romosozumab-proposal"], by_code["romosozumab-cv-caution"]
    reason = next(r for r in caution["overrideReasons"] if r["code"] == "cv-risk-acceptable")
    feedback = {"feedback": [
        {"card": proposal["uuid"], "outcome": "accepted",
         "outcomeTimestamp": "2026-06-15T10:00:00Z",
         "acceptedSuggestions": [{"id": proposal["suggestions"][0]["uuid"]}]},
        {"card": caution["uuid"], "outcome": "overridden",
         "outcomeTimestamp": "2026-06-15T10:00:01Z",
         "overrideReason": {"reason": reason, "userComment": "discussed with cardiology"}},
    ]}
    response = post_json(client, f"{case.path}/feedback", feedback)
    assert response.status_code == 200
    protocol_state(app).store.flush_issued_cards()  # what the server's writer does within 1 s
    url = f"sqlite:///{data_dir / 'osteocds.sqlite3'}"
    topics = {t["topic"]: t for t in report_json(url, capsys=capsys)["topics"]}
    assert topics["romosozumab-proposal"]["accepted"] == 1
    assert topics["romosozumab-cv-caution"]["reasons"] == [
        {"system": REASON_SYSTEM, "code": "cv-risk-acceptable",
         "display": "Cardiovascular risk judged acceptable", "count": 1}]
    assert "unknown" not in topics


def test_a_bad_database_url_is_a_one_line_configuration_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback-report", "--database-url", "mysql://nowhere/db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("osteocds: configuration error: OSTEOCDS_DATABASE_URL must be")
    assert "Traceback" not in err
