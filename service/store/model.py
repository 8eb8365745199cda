"""What the store keeps: feedback facts, issued cards, and the repository interface.

No patient identifiers: a card uuid, the service, the clinician's outcome and reason, timestamps.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.errors import InvalidRequest

FEEDBACK_SOURCES = ("ehr", "preview")


class StoreUnavailable(Exception):
    """The store cannot be used now: unreachable, too slow, read-only, or its schema missing.

    The service answers 503 `transient` (`service.app`); a command reports it in one line with
    exit status 2. The message names the setting (`variable`: OSTEOCDS_DATABASE_URL or
    OSTEOCDS_DATA_DIR) and a fixed description of the cause, never the setting's value (a
    database URL holds a password): "OSTEOCDS_DATABASE_URL: the feedback store is unavailable
    (connection refused)". `kind` is `timeout`, `schema` or `unavailable`."""

    def __init__(self, cause: str, *, variable: str, kind: str = "unavailable") -> None:
        self.cause = cause
        self.variable = variable
        self.kind = kind
        super().__init__(f"{variable}: the feedback store is unavailable ({cause})")


def _require_real_moment(timestamp: str) -> None:
    """The schema checks the shape; an impossible moment (month 13, year 0) is a 400."""
    try:
        datetime.fromisoformat(timestamp)  # given in the upper-case form (`_rfc3339_upper`)
    except ValueError:
        raise InvalidRequest(
            "outcomeTimestamp: not a real date and time", field="feedback.outcomeTimestamp"
        ) from None


def _rfc3339_upper(timestamp: str) -> str:
    """RFC 3339 5.6 allows "t" and "z" in lower case: one spelling, so the same moment sent
    both ways is one fact (digits and signs are unaffected)."""
    return timestamp.upper()


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """One item of a CDS Hooks 2.0 feedback request, already schema-validated."""

    card_uuid: str
    outcome: str  # accepted | overridden
    outcome_timestamp: str  # as sent (RFC 3339), "t" and "z" upper-cased; the idempotency key
    accepted_suggestions: tuple[str, ...] = ()
    override_reason_system: str | None = None
    override_reason_code: str | None = None
    override_reason_display: str | None = None
    override_comment: str | None = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> FeedbackEntry:
        """Parse one validated `feedback[]` item (lenient: reason without system/display)."""
        override = item.get("overrideReason") or {}
        reason = override.get("reason") or {}
        timestamp = _rfc3339_upper(item["outcomeTimestamp"])
        _require_real_moment(timestamp)
        return cls(
            card_uuid=item["card"],
            outcome=item["outcome"],
            outcome_timestamp=timestamp,
            accepted_suggestions=tuple(s["id"] for s in item.get("acceptedSuggestions") or ()),
            override_reason_system=reason.get("system") or None,
            override_reason_code=reason.get("code") or None,
            override_reason_display=reason.get("display") or None,
            override_comment=override.get("userComment") or None,
        )

    @property
    def outcome_at(self) -> datetime:
        """The outcome timestamp as an aware UTC datetime."""
        moment = datetime.fromisoformat(self.outcome_timestamp)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def idempotency_key(self, service_id: str) -> str:
        """SHA-256 of service, card, outcome, timestamp, accepted suggestions and override reason.

        A repeat of the same fact maps to the same key; an `overridden` after an `accepted` (or
        the same outcome at another time) is a new fact.
        """
        material = [
            service_id,
            self.card_uuid,
            self.outcome,
            self.outcome_timestamp,
            sorted(self.accepted_suggestions),
            [
                self.override_reason_system,
                self.override_reason_code,
                self.override_reason_display,
                self.override_comment,
            ],
        ]
        canonical = json.dumps(material, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredFeedback:
    """A feedback row as read back for reports; `topic` comes from the issued card, if known."""

    card_uuid: str
    service_id: str
    outcome: str
    outcome_at: datetime
    received_at: datetime
    source: str
    accepted_suggestions: tuple[str, ...]
    override_reason_system: str | None
    override_reason_code: str | None
    override_reason_display: str | None
    override_comment: str | None
    idempotency_key: str
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCard:
    card_uuid: str
    service_id: str
    issued_at: datetime
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackReceipt:
    """How many feedback items were new facts and how many were repeats."""

    recorded: int
    duplicates: int


class Store(ABC):
    """The repository interface; `service.store.open_store(settings)` picks the backend."""

    dialect: str

    @abstractmethod
    def migrate(self) -> int:
        """Apply pending migrations under a lock; return the schema version now in place."""

    @abstractmethod
    def schema_version(self) -> int:
        """The highest applied migration (0 for an empty database)."""

    @abstractmethod
    def ping(self) -> None:
        """Readiness: raise (`StoreUnavailable`) unless the schema is at least at the version this
        release needs and the store takes a write, within a short timeout."""

    @abstractmethod
    def record_feedback(
        self,
        service_id: str,
        entries: Sequence[FeedbackEntry],
        *,
        source: str = "ehr",
        received_at: datetime | None = None,
    ) -> FeedbackReceipt:
        """Store every entry in one transaction (durable on return); repeats are ignored."""

    @abstractmethod
    def iter_feedback(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        service_id: str | None = None,
        source: str | None = None,
    ) -> Iterator[StoredFeedback]:
        """Feedback received in [since, until), oldest first, with the issued card's topic."""

    @abstractmethod
    def record_issued_cards(
        self,
        service_id: str,
        cards: Sequence[Mapping[str, Any]],
        *,
        issued_at: datetime | None = None,
    ) -> int:
        """Remember the uuid and `source.topic.code` of each card answered; returns rows added."""

    def queue_issued_cards(self, service_id: str, cards: Sequence[Mapping[str, Any]]) -> None:
        """`record_issued_cards` for a hook call: a store may write the rows a moment later
        (the SQL stores do, from a background thread: `service.store.issued`)."""
        self.record_issued_cards(service_id, cards)

    def flush_issued_cards(self) -> int:
        """Write the rows `queue_issued_cards` still holds; returns the rows added."""
        return 0

    @abstractmethod
    def iter_issued_cards(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[IssuedCard]:
        """Cards issued in [since, until), oldest first."""

    @abstractmethod
    def purge_issued_cards(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the issued-card rows issued before `before` (this process's queued rows are
        written first); returns how many were deleted, or with `dry_run` how many would be."""

    @abstractmethod
    def remember_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record a JWT id until `expires_at`; False if (iss, jti) was already seen (a replay).

        Expired rows are purged on the way.
        """

    @abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def card_topic(card: Mapping[str, Any]) -> str | None:
    """`source.topic.code` of a card, if any."""
    source = card.get("source")
    topic = source.get("topic") if isinstance(source, Mapping) else None
    code = topic.get("code") if isinstance(topic, Mapping) else None
    return code if isinstance(code, str) and code else None
