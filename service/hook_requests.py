"""Build CDS Hooks 2.0 requests from a FHIR R4 patient Bundle: the one request builder.

The tests, the `osteocds` CLI, the benchmark and the preview page all build their requests here,
so they all speak the same dialect. Everything is plain JSON (dicts); nothing here does I/O.

- `build_hook_request(hook, bundle, ...)`: a complete request for `patient-view`,
  `order-select` or `order-sign`, with full, partial or no prefetch, `fhirServer` and an optional
  `fhirAuthorization`.
- `build_prefetch(bundle, keys, ...)`: just the prefetch object, as an EHR would fill the six
  templates of `service.record.queries` from its own data.
- `draft_orders_bundle(orders, ...)`: `context.draftOrders` from MedicationRequest dicts.
- `draft_medication_request(patient_id, coding, ...)`: a minimal draft MedicationRequest for a
  drug the caller has already resolved to a Coding (this module never looks codes up).
- `fhir_authorization(access_token, ...)`: a well-formed `fhirAuthorization` object.

The patient Bundle may be a `collection`, `transaction`, `batch` or `searchset`. References to
entries by `fullUrl` (e.g. `urn:uuid:...` in Synthea transaction bundles) are rewritten to
`<Type>/<id>`, as a FHIR server would after the transaction.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from service.record.gather import belongs_to_patient
from service.record.queries import (
    KEY_RESOURCE_TYPES,
    MEDICATION_ADMINISTRATIONS,
    MEDICATION_REQUESTS,
    MEDICATION_STATEMENTS,
    OBSERVATIONS,
    PATIENT,
    PREFETCH_KEYS,
    observation_code_token,
)

HOOKS: tuple[str, ...] = ("patient-view", "order-select", "order-sign")
ORDER_HOOKS: frozenset[str] = frozenset({"order-select", "order-sign"})
DEFAULT_USER_ID = "Practitioner/example"

PrefetchMode = Literal["full", "none"]
_MEDICATION_KEYS = (MEDICATION_STATEMENTS, MEDICATION_REQUESTS, MEDICATION_ADMINISTRATIONS)


def build_hook_request(
    hook: str,
    bundle: Mapping[str, Any],
    *,
    draft_orders: Sequence[Mapping[str, Any]] = (),
    selections: Sequence[str] | None = None,
    prefetch: PrefetchMode | Collection[str] = "full",
    observation_codes: Sequence[str] | None = None,
    local_observation_codes: Sequence[str] = (),
    fhir_server: str | None = None,
    fhir_authorization: Mapping[str, Any] | None = None,
    user_id: str = DEFAULT_USER_ID,
    encounter_id: str | None = None,
    hook_instance: str | None = None,
    draft_bundle_type: str | None = "collection",
) -> dict[str, Any]:
    """A CDS Hooks 2.0 request for `hook` about the one Patient in `bundle`.

    - `draft_orders`: MedicationRequest dicts for `context.draftOrders` (order hooks only); each
      gets an `id`, `status: draft`, `intent: order` and the patient as `subject` when missing.
    - `selections`: order-select `context.selections`; default: every draft order.
    - `prefetch`: `"full"` (all six keys), `"none"` (no `prefetch` at all) or the keys to send.
    - `observation_codes`: when given, the `observations` key holds only Observations with these
      codes (bare codes are LOINC), or with one of `local_observation_codes` in any code system,
      as the discovery template asks; otherwise every Observation.
    - `fhir_server` / `fhir_authorization`: the EHR's FHIR base URL and the token object
      (`fhir_authorization(...)`); `fhirAuthorization` needs `fhirServer`.
    - `draft_bundle_type=None` omits `draftOrders.type`, as the CDS Hooks Sandbox does.
    """
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    if fhir_authorization is not None and not fhir_server:
        raise ValueError("fhirAuthorization needs fhirServer")
    resources = normalized_resources(bundle)
    patient_id = patient_id_of(resources)
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if encounter_id:
        context["encounterId"] = encounter_id
    if hook in ORDER_HOOKS:
        orders = prepare_draft_orders(draft_orders, patient_id=patient_id)
        if not orders:
            raise ValueError(f"{hook} needs at least one draft order")
        if hook == "order-select":
            context["selections"] = list(selections or _references(orders))
        context["draftOrders"] = draft_orders_bundle(orders, bundle_type=draft_bundle_type)
    elif draft_orders:
        raise ValueError("patient-view takes no draft orders")
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": hook_instance or str(uuid.uuid4()),
    }
    if fhir_server:
        request["fhirServer"] = fhir_server.rstrip("/")
    if fhir_authorization is not None:
        request["fhirAuthorization"] = dict(fhir_authorization)
    request["context"] = context
    keys = _prefetch_keys(prefetch)
    if keys:
        request["prefetch"] = _prefetch_from(
            resources, patient_id, keys, observation_codes, local_observation_codes
        )
    return request


def build_prefetch(
    bundle: Mapping[str, Any],
    keys: Iterable[str] = PREFETCH_KEYS,
    *,
    observation_codes: Sequence[str] | None = None,
    local_observation_codes: Sequence[str] = (),
) -> dict[str, Any]:
    """The prefetch object for `keys`: the Patient resource (or `null` when the bundle has none)
    and one `searchset` Bundle per search key (no `entry` when nothing matches)."""
    resources = normalized_resources(bundle)
    return _prefetch_from(
        resources, patient_id_of(resources), list(keys), observation_codes, local_observation_codes
    )


def draft_orders_bundle(
    orders: Sequence[Mapping[str, Any]], *, bundle_type: str | None = "collection"
) -> dict[str, Any]:
    """`context.draftOrders`: a Bundle of the orders (`bundle_type=None` omits `type`)."""
    bundle: dict[str, Any] = {"resourceType": "Bundle"}
    if bundle_type:
        bundle["type"] = bundle_type
    if orders:
        bundle["entry"] = [{"resource": dict(order)} for order in orders]
    return bundle


def prepare_draft_orders(
    orders: Sequence[Mapping[str, Any]], *, patient_id: str
) -> list[dict[str, Any]]:
    """Copies of `orders` with `id` (`draft-<n>`), `status`, `intent` and `subject` filled in."""
    prepared = []
    for number, order in enumerate(orders, start=1):
        resource = copy.deepcopy(dict(order))
        resource.setdefault("resourceType", "MedicationRequest")
        resource.setdefault("id", f"draft-{number}")
        resource.setdefault("status", "draft")
        resource.setdefault("intent", "order")
        resource.setdefault("subject", {"reference": f"Patient/{patient_id}"})
        prepared.append(resource)
    return prepared


def draft_medication_request(
    patient_id: str,
    coding: Mapping[str, Any],
    *,
    order_id: str | None = None,
    text: str | None = None,
    dosage_text: str | None = None,
) -> dict[str, Any]:
    """A minimal draft MedicationRequest for one drug Coding (system, code, display)."""
    concept: dict[str, Any] = {"coding": [dict(coding)]}
    if text or coding.get("display"):
        concept["text"] = text or coding["display"]
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": order_id or f"draft-{uuid.uuid4().hex[:12]}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if dosage_text:
        request["dosageInstruction"] = [{"text": dosage_text}]
    return request


def fhir_authorization(
    access_token: str,
    *,
    scope: str = "patient/*.read",
    subject: str = "osteocds",
    expires_in: int = 300,
    patient: str | None = None,
) -> dict[str, Any]:
    """A `fhirAuthorization` object (token_type Bearer; SMART v1 scopes)."""
    authorization: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
        "subject": subject,
    }
    if patient:
        authorization["patient"] = patient
    return authorization


def normalized_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Bundle's resources (deep copies) with fullUrl references rewritten to `Type/id`."""
    if bundle.get("resourceType") != "Bundle":
        raise ValueError("expected a FHIR Bundle")
    entries = [entry for entry in bundle.get("entry") or () if isinstance(entry, Mapping)]
    aliases: dict[str, str] = {}
    resources: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource")
        if not isinstance(resource, Mapping):
            continue
        resource = copy.deepcopy(dict(resource))
        full_url = entry.get("fullUrl")
        if not resource.get("id") and isinstance(full_url, str) and full_url.startswith("urn:"):
            resource["id"] = full_url.rsplit(":", 1)[-1]
        if isinstance(full_url, str) and resource.get("id"):
            aliases[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    return [_rewrite_references(resource, aliases) for resource in resources]


def patient_id_of(resources: Sequence[Mapping[str, Any]]) -> str:
    """The id of the one Patient among `resources`."""
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1 or not patients[0].get("id"):
        raise ValueError(f"expected exactly one Patient with an id, found {len(patients)}")
    return str(patients[0]["id"])


def _prefetch_keys(prefetch: PrefetchMode | Collection[str]) -> list[str]:
    if prefetch == "full":
        return list(PREFETCH_KEYS)
    if prefetch == "none":
        return []
    keys = list(prefetch)
    unknown = sorted(set(keys) - set(PREFETCH_KEYS))
    if unknown:
        raise ValueError(f"unknown prefetch keys: {', '.join(unknown)}")
    return [key for key in PREFETCH_KEYS if key in keys]


def _prefetch_from(
    resources: Sequence[Mapping[str, Any]],
    patient_id: str,
    keys: Sequence[str],
    observation_codes: Sequence[str] | None,
    local_observation_codes: Sequence[str] = (),
) -> dict[str, Any]:
    prefetch: dict[str, Any] = {}
    for key in keys:
        if key == PATIENT:
            patients = [r for r in resources if r.get("resourceType") == "Patient"]
            prefetch[key] = dict(patients[0]) if patients else None
            continue
        matches = [
            resource
            for resource in resources
            if resource.get("resourceType") == KEY_RESOURCE_TYPES[key]
            and belongs_to_patient(resource, patient_id, None)
        ]
        if key == OBSERVATIONS:
            if observation_codes is not None:
                tokens = {observation_code_token(code) for code in observation_codes}
                local = set(local_observation_codes)
                matches = [r for r in matches if _has_code_token(r, tokens, local)]
            matches.sort(key=_observation_date, reverse=True)
        included = _referenced_medications(matches, resources) if key in _MEDICATION_KEYS else []
        prefetch[key] = searchset(matches, included=included)
    return prefetch


def searchset(
    matches: Sequence[Mapping[str, Any]], *, included: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A `searchset` Bundle as a FHIR server answers (no `entry` when empty)."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(matches)}
    entries = [_search_entry(r, "match") for r in matches]
    entries += [_search_entry(r, "include") for r in included]
    if entries:
        bundle["entry"] = entries
    return bundle


def _search_entry(resource: Mapping[str, Any], mode: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if resource.get("id"):
        entry["fullUrl"] = f"{resource['resourceType']}/{resource['id']}"
    entry["resource"] = dict(resource)
    entry["search"] = {"mode": mode}
    return entry


def _has_code_token(resource: Mapping[str, Any], tokens: set[str], local: set[str]) -> bool:
    """Matches as a FHIR token search would: `system|code`, or a bare local code in any system."""
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, Mapping) else None
    for coding in codings or ():
        if not isinstance(coding, Mapping):
            continue
        if f"{coding.get('system')}|{coding.get('code')}" in tokens or coding.get("code") in local:
            return True
    return False


def _observation_date(resource: Mapping[str, Any]) -> str:
    period = resource.get("effectivePeriod")
    candidates = (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("start") if isinstance(period, Mapping) else None,
        resource.get("issued"),
    )
    return next((value for value in candidates if isinstance(value, str)), "")


def _referenced_medications(
    matches: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    by_reference = {
        f"Medication/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "Medication" and r.get("id")
    }
    wanted: list[str] = []
    for resource in matches:
        reference = resource.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, Mapping) else None
        if isinstance(target, str) and target in by_reference and target not in wanted:
            wanted.append(target)
    return [by_reference[target] for target in wanted]


def _references(orders: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{order['resourceType']}/{order['id']}" for order in orders]


def _rewrite_references(value: Any, aliases: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        rewritten = {key: _rewrite_references(item, aliases) for key, item in value.items()}
        reference = rewritten.get("reference")
        if isinstance(reference, str) and reference in aliases:
            rewritten["reference"] = aliases[reference]
        return rewritten
    if isinstance(value, list):
        return [_rewrite_references(item, aliases) for item in value]
    return value
