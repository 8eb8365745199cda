"""HTTP helpers shared by the commands that talk to a FHIR server or the service itself.

A private module (leading underscore): `service.cli` registers only public modules as commands.
"""

from __future__ import annotations

import requests

from service.record.fhir_client import FHIR_JSON


def fhir_session(token: str | None) -> requests.Session:
    """A session that sends FHIR JSON and, when given, the bearer token."""
    session = requests.Session()
    session.headers["Accept"] = FHIR_JSON
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def outcome_text(response: requests.Response, limit: int) -> str:
    """`": <diagnostics>; ..."` from an OperationOutcome answer (each cut to `limit` characters),
    or "" when the answer carries none."""
    try:
        issues = response.json().get("issue", [])
    except (ValueError, AttributeError):
        return ""
    texts = [str(issue.get("diagnostics") or issue.get("code", ""))[:limit] for issue in issues]
    return f": {'; '.join(texts)}" if texts else ""
