"""`osteocds fixtures load --fhir-server URL [--token T]`: the fixture patients onto a FHIR server.

Each persona of `fhir_fixtures` is rendered for today (or `--as-of`) as a transaction Bundle of PUTs
on stable ids (`osteocds-<persona>`), so loading twice updates instead of duplicating. A progress
bar goes to stderr; stdout gets one line per patient: `<patient id>\t<persona>\t<title>`.
`osteocds fixtures list` prints the personas without touching a server.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from typing import Any, TextIO

import requests

from service.commands._http import FHIR_JSON, fhir_session, outcome_text

REQUEST_TIMEOUT_SECONDS = 60
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("fixtures", help="the fixture patients: list them, load them")
    actions = parser.add_subparsers(dest="fixtures_action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "load", help="PUT the fixture patients on a FHIR R4 server (idempotent)")
    load.add_argument("--fhir-server", required=True, metavar="URL", help="FHIR R4 base URL")
    load.add_argument("--token", help="bearer token for the FHIR server (never printed)")
    load.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="render the personas' dates relative to this day (default: today)")
    load.add_argument("--persona", action="append", metavar="ID",
                      help="load only this persona (repeatable; default: all)")
    load.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                      help="wait up to SECONDS for the server's /metadata before loading")
    load.set_defaults(func=run_load)
    listing = actions.add_parser("list", help="print the personas and their patient ids")
    listing.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print `<patient id>\\t<persona>\\t<title>` for every persona."""
    import fhir_fixtures

    for persona in fhir_fixtures.persona_ids():
        summary = fhir_fixtures.persona_summary(persona)
        print(f"{summary['patient_id']}\t{persona}\t{summary['title']}")
    return 0


def run_load(args: argparse.Namespace) -> int:
    """Load the personas; exit 1 (after trying all) when any failed."""
    import fhir_fixtures

    base_url = args.fhir_server.rstrip("/")
    session = fhir_session(args.token)
    personas = args.persona or fhir_fixtures.persona_ids()
    unknown = sorted(set(personas) - set(fhir_fixtures.persona_ids()))
    if unknown:
        print(f"osteocds: unknown persona(s): {', '.join(unknown)}", file=sys.stderr)
        return EXIT_FAILED
    if args.wait and not wait_for_server(session, base_url, args.wait):
        print(f"osteocds: {base_url}/metadata did not answer within {args.wait:g} s",
              file=sys.stderr)
        return EXIT_FAILED
    as_of = args.as_of or date.today()
    progress = ProgressBar(len(personas), sys.stderr)
    loaded, failures = [], []
    for persona in personas:
        progress.update(persona)
        problem = put_transaction(session, base_url,
                                  fhir_fixtures.render_transaction(persona, as_of))
        if problem:
            failures.append(f"{persona}: {problem}")
        else:
            loaded.append(persona)
    progress.finish(f"{len(loaded)} of {len(personas)} patients loaded (as of {as_of})")
    for persona in loaded:
        summary = fhir_fixtures.persona_summary(persona)
        print(f"{summary['patient_id']}\t{persona}\t{summary['title']}")
    for failure in failures:
        print(f"osteocds: failed {failure}", file=sys.stderr)
    return EXIT_FAILED if failures else 0


def wait_for_server(session: requests.Session, base_url: str, seconds: float) -> bool:
    """Poll `GET [base]/metadata` until it answers 200 or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if session.get(f"{base_url}/metadata", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(2)


def put_transaction(session: requests.Session, base_url: str, bundle: dict[str, Any]) -> str | None:
    """POST one transaction Bundle; None when every entry succeeded, else what went wrong."""
    try:
        response = session.post(base_url, json=bundle, timeout=REQUEST_TIMEOUT_SECONDS,
                                headers={"Content-Type": FHIR_JSON})
    except requests.RequestException as error:
        return f"cannot reach the FHIR server ({type(error).__name__})"
    if response.status_code >= 300:
        return f"HTTP {response.status_code}{outcome_text(response, limit=200)}"
    try:
        answer = response.json()
    except ValueError:
        return "the answer is not JSON"
    entries = answer.get("entry", [])
    statuses = [(entry.get("response") or {}).get("status", "") for entry in entries]
    if answer.get("resourceType") != "Bundle" or len(statuses) != len(bundle.get("entry", [])):
        return "the answer is not a transaction-response Bundle with one entry per resource"
    bad = [status for status in statuses if not status.startswith("2")]
    return f"{len(bad)} entries failed ({', '.join(sorted(set(bad)))})" if bad else None


class ProgressBar:
    """A one-line progress bar on a terminal; one line per step when not a terminal."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.interactive = stream.isatty()

    def update(self, label: str) -> None:
        filled = self.WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"[{bar}] {self.done}/{self.total} loading {label}"
        if self.interactive:
            self.stream.write("\r" + line.ljust(70))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.done += 1

    def finish(self, message: str) -> None:
        bar = "#" * self.WIDTH
        prefix = "\r" if self.interactive else ""
        self.stream.write(f"{prefix}[{bar}] {message}".ljust(70) + "\n")
        self.stream.flush()
