"""Turn the page's choices into the CDS Hooks request an EHR would send, plus the key data.

The request itself always comes from `service.hook_requests.build_hook_request` (the one request
builder). The patient comes from a fixture persona (`fhir_fixtures.render_persona`) or, read
server-side with the service's own FHIR client and prefetch templates, from a FHIR server the
deployment allows (`service.preview.access`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, current_app, g

from service import hook_requests
from service.config import Settings
from service.errors import DataUnavailable, InvalidRequest
from service.hooks import today
from service.preview import catalog
from service.preview.access import PreviewPolicy
from service.preview.key_data import key_data_for
from service.protocol.state import protocol_state
from service.record.fhir_client import Deadline, FetchOutcome, FhirClient
from service.record.gather import gather_record
from service.record.queries import CONDITIONS, fill_template
from service.record.shape import FHIR_ID

PREVIEW_USER_ID = "Practitioner/osteocds-preview"
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True)
class BuiltRequest:
    service_id: str
    request: dict[str, Any]
    key_data: dict[str, Any]


# ---- options shown on the page -------------------------------------------------------------


def persona_options() -> list[dict[str, str]]:
    """Fixture personas as `{"id", "label", "description"}`, in fixture order."""
    import fhir_fixtures

    options = []
    for persona_id in fhir_fixtures.persona_ids():
        summary = fhir_fixtures.persona_summary(persona_id)
        options.append({"id": persona_id, "label": f"{persona_id.upper()} · {summary['title']}",
                        "description": summary.get("description", "")})
    return options


def order_options() -> list[dict[str, Any]]:
    """Draft orders the page can place."""
    return [
        {"id": order.drug, "label": order.label, "coding": order.coding}
        for order in catalog.preview_orders()
    ]


def hook_options() -> list[dict[str, str]]:
    """`{"hook", "serviceId"}` for every service in discovery."""
    registry = protocol_state().registry
    return [{"hook": d.hook, "serviceId": d.id} for d in registry]


# ---- building ------------------------------------------------------------------------------


def build(choices: Mapping[str, Any], policy: PreviewPolicy, settings: Settings) -> BuiltRequest:
    """The request for the page's choices; InvalidRequest / DataUnavailable when impossible."""
    hook = _choice(choices, "hook")
    service_id = _service_for(hook)
    as_of = today(settings)
    prefetch = choices.get("prefetch", True) is not False
    bundle, fhir_server, token = _patient_bundle(choices, policy, settings, as_of)
    if not prefetch and fhir_server is None:
        raise InvalidRequest(
            "a fixture persona has no FHIR server: choose 'Send prefetch' or a FHIR server"
        )
    draft_orders = _draft_orders(hook, choices, bundle, as_of)
    knowledge = protocol_state().knowledge
    try:
        request = hook_requests.build_hook_request(
            hook,
            bundle,
            draft_orders=draft_orders,
            prefetch="full" if prefetch else "none",
            observation_codes=knowledge.prefetch_observation_codes(),
            local_observation_codes=knowledge.prefetch_local_observation_codes(),
            fhir_server=fhir_server,
            fhir_authorization=_authorization(token, bundle) if token else None,
            user_id=PREVIEW_USER_ID,
        )
    except ValueError as error:
        raise InvalidRequest(f"cannot build the request: {error}") from error
    return BuiltRequest(service_id, request, _key_data(bundle, settings, as_of))


def _choice(choices: Mapping[str, Any], name: str) -> str:
    value = choices.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} is required")
    return value


def _service_for(hook: str) -> str:
    for option in hook_options():
        if option["hook"] == hook:
            return option["serviceId"]
    raise InvalidRequest("unknown hook")


def _patient_bundle(
    choices: Mapping[str, Any], policy: PreviewPolicy, settings: Settings, as_of: date
) -> tuple[dict[str, Any], str | None, str | None]:
    """(patient Bundle, fhirServer or None, token or None) for the chosen patient."""
    if choices.get("persona"):
        return _persona_bundle(_choice(choices, "persona"), as_of), None, None
    fhir_server = policy.check_fhir_server(_choice(choices, "fhirServer"))
    patient_id = _choice(choices, "patientId")
    if not FHIR_ID.match(patient_id):
        raise InvalidRequest("patientId is not a FHIR id")
    token = choices.get("token") or None
    if token is not None and (not policy.allow_token or not isinstance(token, str)):
        raise InvalidRequest("a bearer token can only be given in the development profile")
    if token is not None and len(token) > MAX_TOKEN_CHARS:
        raise InvalidRequest("the bearer token is too long")
    bundle = fetch_patient_bundle(fhir_server, patient_id, token, settings)
    return bundle, fhir_server, token


def _persona_bundle(persona_id: str, as_of: date) -> dict[str, Any]:
    import fhir_fixtures

    if persona_id not in fhir_fixtures.persona_ids():
        raise InvalidRequest("unknown persona")
    return fhir_fixtures.render_persona(persona_id, as_of)


def fetch_patient_bundle(
    fhir_server: str, patient_id: str, token: str | None, settings: Settings
) -> dict[str, Any]:
    """Read the patient with the service's own prefetch queries; a `collection` Bundle."""
    client = FhirClient(fhir_server, token=token, settings=settings)
    jobs = {
        key: fill_template(template, patient_id)
        for key, template in protocol_state().templates.items()
    }
    results = client.fetch(jobs, Deadline(settings.fhir_deadline_seconds))
    entries: list[dict[str, Any]] = []
    for key, result in results.items():
        if result.outcome is FetchOutcome.FAILED:
            raise DataUnavailable(f"the FHIR server could not answer the {key} query")
        if result.outcome is FetchOutcome.UNSUPPORTED and key == CONDITIONS:
            # the preview posts what it read as a full prefetch, where a missing type would read
            # as "no conditions": the MI, stroke and hypocalcemia checks need them
            raise DataUnavailable("the FHIR server does not support Condition searches: "
                                  "myocardial infarction, stroke and hypocalcemia cannot be "
                                  "checked")
        entries.extend({"resource": e["resource"]} for e in result.entries if "resource" in e)
    if not any(e["resource"].get("resourceType") == "Patient" for e in entries):
        raise DataUnavailable("the FHIR server has no such Patient")
    return {"resourceType": "Bundle", "type": "collection", "entry": _unique(entries)}


def _unique(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for entry in entries:
        resource = entry["resource"]
        identity = (str(resource.get("resourceType")), str(resource.get("id")))
        if identity in seen and resource.get("id"):
            continue
        seen.add(identity)
        unique.append(entry)
    return unique


def _draft_orders(
    hook: str, choices: Mapping[str, Any], bundle: Mapping[str, Any], as_of: date
) -> list[dict[str, Any]]:
    if hook not in hook_requests.ORDER_HOOKS:
        return []
    drug = _choice(choices, "order")
    patient_id = hook_requests.patient_id_of(hook_requests.normalized_resources(bundle))
    return [catalog.draft_order(drug, patient_id, as_of)]


def _authorization(token: str, bundle: Mapping[str, Any]) -> dict[str, Any]:
    patient_id = hook_requests.patient_id_of(hook_requests.normalized_resources(bundle))
    return hook_requests.fhir_authorization(token, patient=patient_id)


def _key_data(bundle: Mapping[str, Any], settings: Settings, as_of: date) -> dict[str, Any]:
    """The chart facts, computed by the record layer's own parser from a full prefetch."""
    state = protocol_state()
    full = hook_requests.build_hook_request("patient-view", bundle, prefetch="full")
    record = gather_record(full, settings=settings, templates=state.templates,
                           interest=state.knowledge)
    return key_data_for(record, as_of, state.knowledge)


# ---- production: calling the service in-process --------------------------------------------


def dispatch_in_process(path: str, body: Mapping[str, Any]) -> Response:
    """Run the service's own view for `POST path` with `body`, without the JWT check.

    Used only by the production preview routes, for requests the server built itself (fire) or
    feedback (tagged preview). The response is the view's own, error handlers included.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.test_request_context(path, method="POST", json=dict(body)):
        g.cds_client = None
        g.trusted_issuer = None
        try:
            answer = app.dispatch_request()
        except Exception as error:
            answer = app.handle_user_exception(error)
        return app.make_response(answer)
