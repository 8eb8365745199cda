"""`osteocds check-fhir-server URL [--token T] --patient ID`: run exactly the service's FHIR
queries against a server and print, per query, status, entry count, pages and time.

The first thing to run before pointing an EHR at the service. Queries run one after another
(so each time is the server's own), each with the service's full deadline; the token is never
printed.
"""

from __future__ import annotations

import argparse
from typing import Any

from service.config import Settings
from service.errors import DataUnavailable
from service.record import queries
from service.record.fhir_client import Deadline, FetchOutcome, FhirClient
from service.record.shape import FHIR_ID

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-fhir-server", help="run the service's FHIR queries against a server and report")
    parser.add_argument("url", help="the FHIR server base URL (as the EHR sends in fhirServer)")
    parser.add_argument("--patient", required=True, help="a test patient id on that server")
    parser.add_argument("--token", help="a bearer token (as in fhirAuthorization.access_token)")
    parser.add_argument("--dev", action="store_true", help="development profile: allow http")
    parser.set_defaults(func=run)


def service_templates() -> dict[str, str]:
    """The service's own templates (Observation codes from the knowledge data)."""
    from service.knowledge import load_knowledge  # the same loader create_app uses

    return queries.service_templates(load_knowledge())


def run(args: argparse.Namespace) -> int:
    """Print one line per query; exit 1 when any query would make the service answer 412."""
    if not FHIR_ID.match(args.patient):
        print("check-fhir-server: --patient must be a FHIR id")
        return EXIT_USAGE
    settings = Settings(profile="dev") if args.dev else Settings()
    try:
        client = FhirClient(args.url, token=args.token, settings=settings)
    except DataUnavailable as error:
        print(f"check-fhir-server: {error.message}")
        return EXIT_USAGE
    problems = 0
    print(f"{'query':<28}{'status':>8}{'entries':>9}{'pages':>7}{'seconds':>9}  result")
    for key, template in service_templates().items():
        result = client.run(queries.fill_template(template, args.patient),
                            Deadline(settings.fhir_deadline_seconds))
        if result.outcome in (FetchOutcome.FAILED, FetchOutcome.NOT_FOUND):
            problems += 1
        verdict = result.outcome.value + (f": {result.detail}" if result.detail else "")
        print(f"{key:<28}{result.status or '-':>8}{len(result.entries):>9}{result.pages:>7}"
              f"{result.seconds:>9.3f}  {verdict}")
    return EXIT_PROBLEM if problems else EXIT_OK
