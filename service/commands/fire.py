"""`osteocds fire HOOK --patient ID --fhir-server URL`: call a CDS service the way an EHR would.

1. Discovery (`GET <service>/cds-services`) names the service for HOOK and its prefetch templates.
2. The request is built by `service.hook_requests` (the one request builder); with `--order DRUG`
   the order hooks get a draft MedicationRequest for that drug.
3. `--prefetch` (default): each template is filled (`{{context.patientId}}`, `{{context.userId}}`,
   `{{userPractitionerId}}`, ...) and fetched from the FHIR server, as an EHR does; a failed fetch
   is left out (the service then fetches it). `--no-prefetch`: no prefetch; the service queries the
   FHIR server itself.
4. The cards are printed readably (indicator, summary, source, detail, suggestions, links), or the
   raw response with `--json`. Tokens are sent, never printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import quote

import requests

from service.commands._http import fhir_session, outcome_text
from service.hook_requests import HOOKS, build_hook_request, draft_medication_request
from service.hook_requests import fhir_authorization as fhir_authorization_object

DEFAULT_SERVICE = "http://127.0.0.1:8080"
DEFAULT_USER_ID = "Practitioner/example"
TIMEOUT_SECONDS = 30
EXIT_FAILED = 1
PROBLEM_CHARS = 300  # of each OperationOutcome diagnostic quoted in an error
_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_USER_TOKENS = {"userPractitionerId": "Practitioner", "userPractitionerRoleId": "PractitionerRole",
                "userPatientId": "Patient", "userRelatedPersonId": "RelatedPerson"}


def order_drugs() -> list[str]:
    """The drugs `--order` can draft: those the fixture EHR codes (`expected.json` orders)."""
    import fhir_fixtures

    return list(fhir_fixtures.load_expected()["orders"])


def register(subparsers: Any) -> None:
    drugs = order_drugs()
    parser = subparsers.add_parser(
        "fire", help="send a CDS Hooks request for a patient on a FHIR server; print the cards")
    parser.add_argument("hook", choices=HOOKS, metavar="HOOK", help=" | ".join(HOOKS))
    parser.add_argument("--patient", required=True, metavar="ID", help="Patient id on the server")
    parser.add_argument("--fhir-server", required=True, metavar="URL", help="FHIR R4 base URL")
    parser.add_argument("--token", help="FHIR access token: sent as fhirAuthorization")
    parser.add_argument("--service", default=DEFAULT_SERVICE, metavar="URL",
                        help=f"the CDS service's base URL ({DEFAULT_SERVICE})")
    parser.add_argument("--service-token", metavar="JWT",
                        help="Authorization bearer JWT for the CDS service (production profile)")
    parser.add_argument("--prefetch", action=argparse.BooleanOptionalAction, default=True,
                        help="fill prefetch from the discovery templates (default) or leave the "
                             "queries to the service")
    parser.add_argument("--order", choices=drugs, metavar="DRUG",
                        help="draft order for order-select/order-sign (default romosozumab): "
                             + ", ".join(drugs))
    parser.add_argument("--user", default=DEFAULT_USER_ID, help=f"userId ({DEFAULT_USER_ID})")
    parser.add_argument("--json", action="store_true", help="print the raw JSON response")
    parser.set_defaults(func=run)


class FireError(Exception):
    """Something the integration engineer must fix; printed without a traceback."""


def run(args: argparse.Namespace) -> int:
    """Discover, build, send, print."""
    try:
        response = fire(args)
    except FireError as error:
        print(f"osteocds fire: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        json.dump(response, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_cards(response.get("cards", []), sys.stdout)
    return 0


def fire(args: argparse.Namespace) -> dict[str, Any]:
    """Send the hook request described by `args`; the parsed 200 response."""
    if args.hook == "patient-view" and args.order:
        raise FireError("--order applies to order-select and order-sign only")
    service_base = args.service.rstrip("/")
    fhir_server = args.fhir_server.rstrip("/")
    service_session = requests.Session()
    if args.service_token:
        service_session.headers["Authorization"] = f"Bearer {args.service_token}"
    definition = discover(service_session, service_base, args.hook)
    request = build_request(args, fhir_server)
    if args.prefetch:
        fhir = fhir_session(args.token)
        request["prefetch"] = fetch_prefetch(fhir, fhir_server, definition.get("prefetch", {}),
                                             request["context"], sys.stderr)
        if not request["prefetch"]:
            del request["prefetch"]
    return send(service_session, f"{service_base}/cds-services/{definition['id']}", request)


def discover(session: requests.Session, service_base: str, hook: str) -> dict[str, Any]:
    """The discovery entry of the service answering `hook`."""
    try:
        response = session.get(f"{service_base}/cds-services", timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise FireError(f"cannot reach {service_base} ({type(error).__name__})") from None
    if response.status_code != 200:
        raise FireError(f"discovery answered HTTP {response.status_code}{_problem(response)}")
    services = [s for s in response.json().get("services", []) if s.get("hook") == hook]
    if not services:
        raise FireError(f"{service_base} offers no {hook} service")
    return dict(services[0])


def build_request(args: argparse.Namespace, fhir_server: str) -> dict[str, Any]:
    """The CDS Hooks request without prefetch (filled separately, like an EHR does)."""
    patient = {"resourceType": "Patient", "id": args.patient}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    orders = [draft_order(args.order or "romosozumab", args.patient)] if args.hook != (
        "patient-view") else []
    authorization = fhir_authorization_object(args.token, patient=args.patient) if args.token \
        else None
    return build_hook_request(args.hook, bundle, draft_orders=orders, prefetch="none",
                              fhir_server=fhir_server, fhir_authorization=authorization,
                              user_id=args.user)


def draft_order(drug: str, patient_id: str) -> dict[str, Any]:
    """A draft MedicationRequest for `drug`, coded as the fixture EHR drafts it."""
    import fhir_fixtures
    from fhir_fixtures import render

    spec = fhir_fixtures.load_expected()["orders"][drug]
    return draft_medication_request(patient_id, render.coding(spec["code"]),
                                    order_id=f"draft-{drug}", text=spec["text"],
                                    dosage_text=spec["dosage"])


def fill_template(template: str, context: Mapping[str, Any]) -> str | None:
    """A prefetch template with its tokens replaced (URL-encoded); None when a token is unknown."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name.startswith("context.") and isinstance(context.get(name[8:]), str):
            return quote(context[name[8:]], safe="/")
        user_type, _, user_id = str(context.get("userId", "")).partition("/")
        if _USER_TOKENS.get(name) == user_type and user_id:
            return quote(user_id, safe="")
        missing = True
        return ""

    filled = _TOKEN.sub(value, template)
    return None if missing else filled


def fetch_prefetch(session: requests.Session, fhir_server: str, templates: Mapping[str, str],
                   context: Mapping[str, Any], log: TextIO) -> dict[str, Any]:
    """Each template fetched from the FHIR server; failures are reported on `log` and left out."""
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = fill_template(template, context)
        if query is None:
            log.write(f"prefetch {key}: template has a token this client cannot fill; left out\n")
            continue
        try:
            response = session.get(f"{fhir_server}/{query}", timeout=TIMEOUT_SECONDS)
        except requests.RequestException as error:
            log.write(f"prefetch {key}: {type(error).__name__}; left out\n")
            continue
        if response.status_code != 200:
            log.write(f"prefetch {key}: HTTP {response.status_code}; left out\n")
            continue
        prefetch[key] = response.json()
    return prefetch


def send(session: requests.Session, url: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """POST the request; the parsed body of a 200, FireError otherwise."""
    try:
        response = session.post(url, json=request, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise FireError(f"cannot reach {url} ({type(error).__name__})") from None
    if response.status_code != 200:
        raise FireError(f"{url} answered HTTP {response.status_code}{_problem(response)}")
    return dict(response.json())


def _problem(response: requests.Response) -> str:
    return outcome_text(response, limit=PROBLEM_CHARS)


# ---- printing ---------------------------------------------------------------------------------

_COLOURS = {"critical": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[1;36m"}
_RESET = "\033[0m"


def print_cards(cards: list[Mapping[str, Any]], out: TextIO) -> None:
    """The cards as an EHR user would read them, one block each."""
    if not cards:
        out.write("No cards: the service has nothing to say for this patient.\n")
        return
    colour = out.isatty()
    out.write(f"{len(cards)} card{'s' if len(cards) != 1 else ''}\n")
    for number, card in enumerate(cards, start=1):
        out.write("\n" + format_card(number, card, colour=colour))


def format_card(number: int, card: Mapping[str, Any], *, colour: bool = False) -> str:
    """One card as text: indicator and summary, source, detail, suggestions, links."""
    indicator = str(card.get("indicator", "info"))
    tag = f"[{indicator.upper()}]"
    if colour:
        tag = f"{_COLOURS.get(indicator, '')}{tag}{_RESET}"
    lines = [f"{number}. {tag} {card.get('summary', '')}"]
    source = card.get("source") or {}
    topic = (source.get("topic") or {}).get("display") or (source.get("topic") or {}).get("code")
    if source.get("label"):
        lines.append(f"   source: {source['label']}" + (f" (topic: {topic})" if topic else ""))
    if card.get("detail"):
        for paragraph in str(card["detail"]).splitlines():
            lines.extend(_wrap(paragraph))
    suggestions = card.get("suggestions") or []
    if suggestions:
        behaviour = card.get("selectionBehavior")
        lines.append("   suggestions" + (f" ({behaviour})" if behaviour else "") + ":")
        for suggestion in suggestions:
            lines.extend(_suggestion_lines(suggestion))
    for link in card.get("links") or []:
        lines.append(f"   link: {link.get('label', '')} -> {link.get('url', '')}")
    return "\n".join(lines) + "\n"


def _wrap(paragraph: str, width: int = 96) -> list[str]:
    """A detail line wrapped under its own indentation (Markdown list items stay readable)."""
    body = paragraph.lstrip()
    indent = "   " + paragraph[: len(paragraph) - len(body)]
    hanging = indent + ("  " if body.startswith(("- ", "* ")) else "")
    return textwrap.wrap(body, width=width, initial_indent=indent,
                         subsequent_indent=hanging) or [""]


def _suggestion_lines(suggestion: Mapping[str, Any]) -> list[str]:
    mark = " [recommended]" if suggestion.get("isRecommended") else ""
    lines = [f"   - {suggestion.get('label', '')}{mark}"]
    for action in suggestion.get("actions") or []:
        resource = action.get("resource") or {}
        what = resource.get("resourceType") or action.get("resourceId") or ""
        medication = (resource.get("medicationCodeableConcept") or {}).get("text")
        description = action.get("description") or medication or ""
        lines.append(f"       {action.get('type', '')} {what}: {description}".rstrip(": "))
    return lines
