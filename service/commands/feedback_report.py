"""`osteocds feedback-report [--since DATE] [--include-preview] [--json]`.

Acceptance and override rates per card topic, and the override reasons grouped by
(system, code, display) with their counts, from the feedback store. Feedback is joined to the
issued card by uuid (the store keeps each answered card's uuid and topic, no patient data);
feedback for a card the store never issued is reported under topic `unknown`. Feedback sent from
the preview page (source `preview`) is left out unless `--include-preview` is given.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from service.commands._settings import CONFIGURATION_ERRORS, configuration_error, store_settings
from service.config import Settings
from service.store import IssuedCard, StoredFeedback, open_store

UNKNOWN_TOPIC = "unknown"
PREVIEW_SOURCE = "preview"


@dataclass(frozen=True, slots=True)
class ReasonCount:
    system: str
    code: str
    display: str
    count: int


@dataclass(frozen=True, slots=True)
class TopicReport:
    topic: str
    issued: int
    feedback: int
    accepted: int
    overridden: int
    reasons: tuple[ReasonCount, ...] = ()

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.feedback if self.feedback else None

    @property
    def override_rate(self) -> float | None:
        return self.overridden / self.feedback if self.feedback else None


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    since: date | None
    include_preview: bool
    topics: tuple[TopicReport, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict, rates included."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "includePreview": self.include_preview,
            "topics": [
                {**asdict(t), "acceptanceRate": t.acceptance_rate, "overrideRate": t.override_rate}
                for t in self.topics
            ],
        }


def summarize(
    feedback: Iterable[StoredFeedback],
    issued: Iterable[IssuedCard],
    *,
    since: date | None = None,
    include_preview: bool = False,
) -> FeedbackReport:
    """Group feedback facts by the issued card's topic (`unknown` when never issued)."""
    issued_per_topic = Counter(card.topic or UNKNOWN_TOPIC for card in issued)
    outcomes: dict[str, Counter[str]] = {}
    reasons: dict[str, Counter[tuple[str, str, str]]] = {}
    for item in feedback:
        if item.source == PREVIEW_SOURCE and not include_preview:
            continue
        topic = item.topic or UNKNOWN_TOPIC
        outcomes.setdefault(topic, Counter())[item.outcome] += 1
        if item.outcome == "overridden" and (item.override_reason_code or
                                             item.override_reason_display):
            key = (item.override_reason_system or "", item.override_reason_code or "",
                   item.override_reason_display or item.override_reason_code or "")
            reasons.setdefault(topic, Counter())[key] += 1
    topics = sorted(set(issued_per_topic) | set(outcomes))
    return FeedbackReport(since, include_preview, tuple(
        _topic_report(topic, issued_per_topic[topic], outcomes.get(topic, Counter()),
                      reasons.get(topic, Counter()))
        for topic in topics
    ))


def _topic_report(topic: str, issued: int, outcomes: Counter[str],
                  reasons: Counter[tuple[str, str, str]]) -> TopicReport:
    grouped = tuple(ReasonCount(s, c, d, n) for (s, c, d), n in
                    sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return TopicReport(topic, issued, sum(outcomes.values()), outcomes["accepted"],
                       outcomes["overridden"], grouped)


def render_text(report: FeedbackReport) -> str:
    """A plain-text table per topic, then the override reasons with their displays."""
    scope = f"since {report.since.isoformat()}" if report.since else "all time"
    preview = "preview feedback included" if report.include_preview else "preview feedback excluded"
    lines = [f"Card feedback ({scope}; {preview})", ""]
    if not report.topics:
        return "\n".join([*lines, "No cards issued and no feedback recorded."])
    header = f"{'topic':<34} {'issued':>6} {'feedback':>8} {'accepted':>8} {'overridden':>10}"
    lines += [header, "-" * len(header)]
    for t in report.topics:
        lines.append(f"{t.topic:<34} {t.issued:>6} {t.feedback:>8} "
                     f"{_count_rate(t.accepted, t.acceptance_rate):>8} "
                     f"{_count_rate(t.overridden, t.override_rate):>10}")
    reason_lines = [
        f"  {t.topic}: {r.display} ({r.system or 'no system'} | {r.code or 'no code'}): {r.count}"
        for t in report.topics for r in t.reasons
    ]
    lines += ["", "Override reasons", *(reason_lines or ["  none"])]
    return "\n".join(lines)


def _count_rate(count: int, rate: float | None) -> str:
    return f"{count} ({rate:.0%})" if rate is not None else str(count)


def build_report(settings: Settings, *, since: date | None, include_preview: bool
                 ) -> FeedbackReport:
    """Read the store `settings` name and summarize it."""
    store = open_store(settings)
    try:
        if store.schema_version() == 0:  # never migrated: nothing issued, nothing received
            return FeedbackReport(since, include_preview)
        start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
        feedback = list(store.iter_feedback(since=start))
        issued = list(store.iter_issued_cards(since=start))
    finally:
        store.close()
    return summarize(feedback, issued, since=since, include_preview=include_preview)


def run(args: argparse.Namespace) -> int:
    try:
        report = build_report(store_settings(args.database_url), since=args.since,
                              include_preview=args.include_preview)
    except CONFIGURATION_ERRORS as error:
        return configuration_error(error)
    print(json.dumps(report.as_json(), indent=2) if args.json else render_text(report))
    return 0


def register(subparsers: Any) -> None:
    """Add the `feedback-report` sub-command."""
    parser = subparsers.add_parser(
        "feedback-report",
        help="acceptance and override rates per card topic, from the feedback store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="only feedback received (and cards issued) on or after this date")
    parser.add_argument("--include-preview", action="store_true",
                        help="include feedback sent from the card preview page")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--database-url", help="override OSTEOCDS_DATABASE_URL")
    parser.set_defaults(func=run)
