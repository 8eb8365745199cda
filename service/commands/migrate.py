"""`osteocds migrate`: apply the store's pending schema migrations (safe to run concurrently).

`osteocds serve` migrates at start-up too; this command is for deployments that migrate in a
separate step (a Kubernetes job, a release hook).
"""

from __future__ import annotations

import argparse
from typing import Any

from service.commands._settings import CONFIGURATION_ERRORS, configuration_error, store_settings
from service.store import open_store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply pending feedback-store migrations")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Migrate the store named by OSTEOCDS_DATABASE_URL / OSTEOCDS_DATA_DIR."""
    try:
        store = open_store(store_settings())
        try:
            before = store.schema_version()
            after = store.migrate()
        finally:
            store.close()
    except CONFIGURATION_ERRORS as error:  # includes an unreachable or read-only store
        return configuration_error(error)
    print(f"{store.dialect} store at schema version {after} (was {before})")
    return 0
