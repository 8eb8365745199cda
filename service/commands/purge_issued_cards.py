"""`osteocds purge-issued-cards --older-than-days N [--dry-run] [--database-url URL]`.

Deletes the rows of `issued_cards` (card uuid, topic, service, time: no patient data) issued
more than N days ago. The service keeps one row for every card it answers and never deletes
them itself: how long to keep them is the deployment's decision, and this command is how it
is carried out (a cron job or a Kubernetes CronJob, for example). Feedback rows are never
deleted. Feedback on a card whose row was purged is reported under topic `unknown` by
`osteocds feedback-report`, so purge only periods that are no longer reported on.

Rows go in transactions of 10,000, so hook calls that write at the same time wait for one
batch at most. `--dry-run` counts the rows and deletes nothing. Exit codes: 0 done, 2 a bad
argument or configuration.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from service.commands._settings import CONFIGURATION_ERRORS, configuration_error, store_settings
from service.store import open_store
from service.store.model import utc_now

MAX_DAYS = 36_500


def register(subparsers: Any) -> None:
    """Add the `purge-issued-cards` sub-command."""
    parser = subparsers.add_parser(
        "purge-issued-cards",
        help="delete issued-card rows older than a number of days (retention)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--older-than-days", type=_days, required=True, metavar="N",
                        help=f"delete rows issued more than N days ago (1 to {MAX_DAYS:,})")
    parser.add_argument("--dry-run", action="store_true",
                        help="count the rows that would be deleted, delete nothing")
    parser.add_argument("--database-url", help="override OSTEOCDS_DATABASE_URL")
    parser.set_defaults(func=run)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_DAYS:,}")
    return days


def run(args: argparse.Namespace) -> int:
    """Purge (or count) the rows older than the cutoff; prints what it did."""
    try:
        store = open_store(store_settings(args.database_url))
    except CONFIGURATION_ERRORS as error:
        return configuration_error(error)
    cutoff = utc_now() - timedelta(days=args.older_than_days)
    try:
        if store.schema_version() == 0:  # never migrated: nothing was ever issued
            count = 0
        else:
            count = store.purge_issued_cards(cutoff, dry_run=args.dry_run)
    finally:
        store.close()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {count} issued-card rows issued before {cutoff.isoformat(timespec='seconds')}"
          f" ({store.dialect} store)")
    return 0
