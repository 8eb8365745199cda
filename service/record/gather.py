"""Assemble one `PatientRecord` from the hook request's prefetch and, for the rest, the EHR's
FHIR server (CDS Hooks 2.0 prefetch semantics, issue 3).

Per prefetch key: a resource or a Bundle is data; `null` is "the EHR has no data" (not fetched);
an OperationOutcome, a Bundle carrying an OperationOutcome entry with an `error` or `fatal` issue
(information and warning outcomes keep the Bundle as data), a value that is not a JSON object (on
the request path the hook request schema refuses one first, 400), or an absent key is fetched
from `fhirServer`; a Bundle with a `next` link is completed by following it. Keys other than the
templates' are never read. What cannot be obtained gives `DataUnavailable` (412) naming the
keys, never the token or the patient.
A type the FHIR server's CapabilityStatement omits is "no data" for that type, said in the card
(issue 3); for Condition, which the MI, stroke and hypocalcemia exclusions are read from, the
gap is partial: its absence is not evidence of absence, so no proposal rests on it.

Every resource the service reads from a key (the key's own resource type: Patient, Condition,
...) must belong to `context.patientId` (`ForeignPatientData`, 400, otherwise). Medications
(no subject) resolve `medicationReference`; resources of other types (`_include`d Practitioner,
Organization, Provenance...) are never read, so never checked nor used.

`medicationReference` resolves a contained `#id`, a bundled Medication by `Medication/<id>` or by
its entry `fullUrl` (`urn:uuid:...`, an absolute URL), with `<fhirServer>/` and `/_history/<v>`
dropped first; what is left as `Medication/<id>` is fetched from `fhirServer`, never elsewhere.

With a `RecordInterest` (the knowledge, on the request path), Conditions and Observations whose
codes and text no rule reads are checked for their patient like every other resource but not
parsed: the EHR may send a whole problem list and every vital sign.

Wrong JSON types (see `service.record.shape` for the whole policy): a malformed Bundle or
resource header in prefetch or draft orders is 400 (`InvalidRequest` naming the key), in a FHIR
server answer 412; a wrong type in a clinical field reads as "not stated"; a `fhirServer` that is
not a parseable URL (bad port or host) is 400 naming `fhirServer`. No error echoes input values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any, Protocol

from service import telemetry
from service.config import Settings
from service.errors import DataUnavailable, ForeignPatientData, InvalidRequest
from service.record import parse
from service.record.fhir_client import (
    Deadline,
    FetchOutcome,
    FetchResult,
    FhirClient,
    FhirClientFactory,
    checked_origin,
    default_client_factory,
)
from service.record.model import (
    Coding,
    DataGap,
    DraftOrder,
    PatientRecord,
    condition_label,
)
from service.record.queries import KEY_RESOURCE_TYPES, PATIENT, fill_template
from service.record.shape import (
    FHIR_ID,
    ErrorOutcome,
    MalformedData,
    bundle_entries,
    check_resource,
    is_mapping,
    next_link_of,
    type_name,
)

UNSUPPORTED_REASON = "not supported by the FHIR server"
UNRESOLVED_MEDICATION_REASON = "a medication reference could not be resolved"
_LOG = logging.getLogger("osteocds.record")
# Types the romosozumab exclusions are read from: unsupported, they leave the record incomplete
EXCLUSION_TYPES = frozenset({"Condition"})


class RecordInterest(Protocol):
    """Which Conditions and Observations are worth parsing, judged by their `code` alone."""

    def wants_condition(self, codings: tuple[Coding, ...]) -> bool: ...

    def reads_condition_codes(self, codings: tuple[Coding, ...]) -> bool: ...

    def wants_observation(self, codings: tuple[Coding, ...], text: str | None) -> bool: ...


class _Kind(Enum):
    DATA = "data"  # use the entries (complete)
    NO_DATA = "null"  # the EHR said there is none
    FETCH = "fetch"  # run the template against the FHIR server
    CONTINUE = "continue"  # use the entries and follow `next`


class _KeyState:
    """One prefetch key: its entries so far and what is left to do. A plain class, which the
    compiled build makes native (a dataclass's `__init__` stays interpreted there)."""

    def __init__(self, kind: _Kind, entries: list[dict[str, Any]] | None = None,
                 next_link: str | None = None) -> None:
        self.kind = kind
        self.entries: list[dict[str, Any]] = [] if entries is None else entries
        self.next_link = next_link
        self.gap: DataGap | None = None


def gather_record(
    request: Mapping[str, Any],
    *,
    settings: Settings,
    templates: Mapping[str, str],
    fhir_client_factory: FhirClientFactory | None = None,
    interest: RecordInterest | None = None,
) -> PatientRecord:
    """The patient's record for one hook request (a parsed CDS Hooks request body).

    `templates` are the service's prefetch templates (`queries.prefetch_templates`): keys of
    `PREFETCH_KEYS`; only those keys are read. `fhir_client_factory(fhirServer, token, settings)`
    builds the client for missing data (tests inject one); the default pools sessions.
    `interest` leaves out the Conditions and Observations it does not want (None: keep all).
    """
    context = _mapping(request.get("context"), "context")
    patient_id = _patient_id(context)
    prefetch = request.get("prefetch")
    if prefetch is None:
        prefetch = {}
    elif not isinstance(prefetch, dict):
        raise InvalidRequest("prefetch must be a JSON object", field="prefetch")
    _check_templates(templates)
    deadline = Deadline(settings.fhir_deadline_seconds)
    states = {key: _classify(key, prefetch.get(key, _ABSENT)) for key in templates}
    client = _client_if_possible(request, settings, fhir_client_factory)
    _count_sources(states, fetching=client is not None)
    _complete(states, templates, patient_id, client, deadline)
    references = _PatientReferences(patient_id, request.get("fhirServer"))
    for key, state in states.items():
        _check_subjects(key, state.entries, references)
    return _build(states, context, patient_id, client, deadline, interest)


# ---- request shape ----------------------------------------------------------------------

_ABSENT = object()


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be a JSON object", field=name)
    return value


def _patient_id(context: dict[str, Any]) -> str:
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not FHIR_ID.match(patient_id):
        raise InvalidRequest("context.patientId must be a FHIR id", field="context.patientId")
    return patient_id


def _check_templates(templates: Mapping[str, str]) -> None:
    unknown = sorted(set(templates) - set(KEY_RESOURCE_TYPES))
    if unknown:
        raise ValueError(f"unknown prefetch keys: {unknown}")


def _token(request: Mapping[str, Any]) -> str | None:
    authorization = request.get("fhirAuthorization")
    if authorization is None:
        return None
    authorization = _mapping(authorization, "fhirAuthorization")
    token = authorization.get("access_token")
    if not isinstance(token, str) or not token:
        raise InvalidRequest("fhirAuthorization.access_token must be a string",
                             field="fhirAuthorization")
    return token


def _client_if_possible(
    request: Mapping[str, Any], settings: Settings, factory: FhirClientFactory | None
) -> _LazyClient | None:
    server = request.get("fhirServer")
    if server is None:
        _token(request)  # still validate its shape
        return None
    if not isinstance(server, str) or not server or checked_origin(server) is None:
        raise InvalidRequest("fhirServer must be a valid URL (host and port)", field="fhirServer")
    return _LazyClient(server, _token(request), settings, factory or default_client_factory)


class _LazyClient:
    """Builds the FHIR client only when something must be fetched (an https check may fail)."""

    def __init__(self, server: str, token: str | None, settings: Settings,
                 factory: FhirClientFactory) -> None:
        self.server, self._token, self._settings, self._factory = server, token, settings, factory
        self._client: FhirClient | None = None

    def fetch(self, jobs: Mapping[str, str], deadline: Deadline) -> dict[str, FetchResult]:
        if not jobs:
            return {}
        if self._client is None:
            self._client = self._factory(self.server, self._token, self._settings)
        return self._client.fetch(jobs, deadline)


# ---- prefetch semantics -----------------------------------------------------------------


def _classify(key: str, value: Any) -> _KeyState:
    """What one prefetch value means (CDS Hooks 2.0 section "Prefetch")."""
    if value is None:
        return _KeyState(_Kind.NO_DATA)
    if value is _ABSENT or not isinstance(value, dict):
        return _KeyState(_Kind.FETCH)
    resource_type = value.get("resourceType")
    try:
        if resource_type == "OperationOutcome":
            return _KeyState(_Kind.FETCH)
        if resource_type == "Bundle":
            entries = bundle_entries(value, refuse_errors=True)
            next_link = next_link_of(value)
            if next_link:
                return _KeyState(_Kind.CONTINUE, entries, next_link)
            return _KeyState(_Kind.DATA, entries)
        if resource_type == KEY_RESOURCE_TYPES[key] and key == PATIENT:
            return _KeyState(_Kind.DATA, [{"resource": check_resource(dict(value))}])
    except ErrorOutcome:  # the EHR's search failed: like a bare OperationOutcome
        return _KeyState(_Kind.FETCH)
    except MalformedData as malformed:
        raise InvalidRequest(f"prefetch {key} holds {malformed.detail}",
                             field=f"prefetch.{key}") from None
    raise InvalidRequest(f"prefetch {key} holds a {type_name(resource_type)} where a "
                         f"{KEY_RESOURCE_TYPES[key]} {'resource' if key == PATIENT else 'Bundle'}"
                         " was expected", field=f"prefetch.{key}")


def _count_sources(states: Mapping[str, _KeyState], *, fetching: bool) -> None:
    """Metrics: per key, whether the EHR's prefetch answered it or the service had to fetch."""
    for key, state in states.items():
        if state.kind in (_Kind.DATA, _Kind.NO_DATA):
            source = "prefetch"
        else:
            source = "fhir" if fetching else "missing"
        telemetry.observe_prefetch(key, source, known_keys=states)


def _complete(
    states: dict[str, _KeyState],
    templates: Mapping[str, str],
    patient_id: str,
    client: _LazyClient | None,
    deadline: Deadline,
) -> None:
    """Fetch absent keys and follow next links, in parallel; 412 when that is impossible."""
    jobs = {}
    for key, state in states.items():
        if state.kind is _Kind.FETCH:
            jobs[key] = fill_template(templates[key], patient_id)
        elif state.kind is _Kind.CONTINUE and state.next_link:
            jobs[key] = state.next_link
    if not jobs:
        return
    if client is None:
        raise DataUnavailable(
            "prefetch incomplete and no fhirServer to complete it: " + ", ".join(sorted(jobs)))
    results = client.fetch(jobs, deadline)
    failures = []
    for key, result in results.items():
        failure = _apply(states[key], key, result)
        if failure:
            failures.append(f"{key} ({failure})")
    if failures:
        raise DataUnavailable("FHIR data unavailable: " + "; ".join(sorted(failures)))


def _apply(state: _KeyState, key: str, result: FetchResult) -> str | None:
    """Merge one fetch result into its key; returns a failure text for the 412, or None."""
    resource_type = KEY_RESOURCE_TYPES[key]
    if result.outcome is FetchOutcome.OK:
        state.entries.extend(result.entries)
        state.kind, state.next_link = _Kind.DATA, None
        return None
    if result.outcome is FetchOutcome.UNSUPPORTED and state.kind is _Kind.FETCH:
        state.kind = _Kind.NO_DATA
        # partial for Conditions: the MI, stroke and hypocalcemia exclusions are read from them,
        # and their absence on a server that cannot serve them is not evidence of absence
        state.gap = DataGap(resource_type, UNSUPPORTED_REASON,
                            partial=resource_type in EXCLUSION_TYPES)
        return None
    if result.outcome is FetchOutcome.NOT_FOUND and key == PATIENT:
        return "the patient was not found on the FHIR server"
    return result.detail or "unavailable"


# ---- subject checks ---------------------------------------------------------------------

_NO_SUBJECT_TYPES = frozenset({"Medication", "OperationOutcome"})


def _check_subjects(key: str, entries: list[dict[str, Any]],
                    references: _PatientReferences) -> None:
    """Only the key's own resource type is read (`_build`), so only it is checked: Medications
    carry no subject, and other `_include`d types (Practitioner, Encounter...) are ignored."""
    read_type = KEY_RESOURCE_TYPES[key]
    for entry in entries:
        resource: dict[str, Any] = entry["resource"]
        if resource.get("resourceType") != read_type:
            continue
        if not _belongs(resource, references):
            raise ForeignPatientData(
                f"prefetch/FHIR data for {key} holds a {type_name(resource.get('resourceType'))} "
                "of another patient than context.patientId", field=f"prefetch.{key}")


def belongs_to_patient(resource: dict[str, Any], patient_id: str, fhir_server: Any) -> bool:
    """True when the resource is the context patient or refers to it as subject/patient."""
    return _belongs(resource, _PatientReferences(patient_id, fhir_server))


class _PatientReferences:
    """How a resource may refer to the context patient: `Patient/<id>`, or the absolute URL on
    `fhirServer`, either one optionally followed by `/_history/<version>`. Built once per
    request, not once per resource (a plain class: a frozen dataclass costs mypyc a
    `setattr` call per field)."""

    def __init__(self, patient_id: str, fhir_server: Any) -> None:
        self.patient_id = patient_id
        relative = f"Patient/{patient_id}"
        forms = [relative]
        if isinstance(fhir_server, str) and fhir_server:
            forms.append(f"{fhir_server.rstrip('/')}/{relative}")
        self.forms = tuple(forms)
        self.versioned_forms = tuple(f"{form}/_history/" for form in forms)

    def matches(self, reference: str) -> bool:
        return reference in self.forms or reference.startswith(self.versioned_forms)


def _belongs(resource: dict[str, Any], references: _PatientReferences) -> bool:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return False
    if resource_type in _NO_SUBJECT_TYPES:
        return True
    if resource_type == "Patient":
        return resource.get("id") == references.patient_id
    for element in ("subject", "patient"):
        reference = resource.get(element)
        if is_mapping(reference) and "reference" in reference:
            target = reference.get("reference")
            return isinstance(target, str) and references.matches(target)
    return False


# ---- building the record ----------------------------------------------------------------


def _build(states: Mapping[str, _KeyState], context: dict[str, Any], patient_id: str,
           client: _LazyClient | None, deadline: Deadline,
           interest: RecordInterest | None) -> PatientRecord:
    gaps = [state.gap for state in states.values() if state.gap is not None]
    patient_resource = next(
        (entry["resource"] for entry in states[PATIENT].entries
         if entry["resource"].get("resourceType") == "Patient"),
        None,
    ) if PATIENT in states else None
    patient = parse.parse_patient(patient_resource) if patient_resource else None
    birth_date = patient.birth_date if patient else None
    draft_entries = _draft_entries(context)
    drafts = [entry["resource"] for entry in draft_entries]
    medications = _MedicationIndex(states, draft_entries,
                                   client.server if client is not None else None)
    medications.fetch_missing(client, deadline)
    conditions, events, observations = [], [], []
    unread_conditions: list[str] = []
    for key, state in states.items():
        for entry in state.entries:
            # Typed, so the compiled build reads it with dict operations (bundle_entries
            # checked that every entry's resource is a JSON object).
            resource: dict[str, Any] = entry["resource"]
            full_url = _full_url(entry)
            resource_type = resource.get("resourceType")
            if resource_type != KEY_RESOURCE_TYPES[key]:
                continue
            if resource_type == "Condition":
                codings = parse.codings_of(resource.get("code"))
                if interest is None or interest.wants_condition(codings):
                    conditions.append(
                        parse.parse_condition(resource, birth_date, full_url, codings))
                elif not interest.reads_condition_codes(codings) and parse.counts_as_condition(
                        resource):
                    unread_conditions.append(condition_label(
                        codings, parse.text_of(resource.get("code"), codings)))
            elif resource_type == "Observation":
                codings = parse.codings_of(resource.get("code"))
                text = parse.text_of(resource.get("code"), codings)
                if interest is None or interest.wants_observation(codings, text):
                    observations.append(
                        parse.parse_observation(resource, full_url, codings, text))
            elif resource_type.startswith("Medication"):
                events.append(parse.parse_medication(resource, medications.resolve, full_url))
    draft_orders = _draft_orders(context, drafts, patient_id, medications)
    if medications.unresolved:
        gaps.append(DataGap("Medication", UNRESOLVED_MEDICATION_REASON, partial=True))
    return PatientRecord(
        patient_id=patient_id,
        patient=patient,
        conditions=_sorted(conditions),
        medications=_sorted(events),
        observations=_sorted(observations),
        draft_orders=draft_orders,
        data_gaps=tuple(gaps),
        unread_conditions=tuple(sorted(unread_conditions)),
    )


def _full_url(entry: dict[str, Any]) -> str | None:
    full_url = entry.get("fullUrl")
    return full_url if isinstance(full_url, str) and full_url else None


def _sorted(items: list[Any]) -> tuple[Any, ...]:
    """Counted items in a stable order (by reference) so prefetch and FHIR give equal records."""
    return tuple(sorted((item for item in items if item is not None),
                        key=lambda item: item.reference))


def _medication_key(reference: str, base: str | None) -> str:
    """The index key of a Medication reference: `<fhirServer>/Medication/<id>` becomes
    `Medication/<id>` and a version (`/_history/<v>`) is dropped; any other absolute URL or a
    `urn:uuid:` stays as it is (it can only match a bundled entry's `fullUrl`)."""
    if base is not None and reference.startswith(base + "/"):
        reference = reference[len(base) + 1:]
    history = reference.find("/_history/")
    return reference[:history] if history >= 0 else reference


class _MedicationIndex:
    """Resolves medicationReference: contained, bundled (search.mode include, by
    `Medication/<id>` or entry `fullUrl`), or fetched from `fhirServer` (`server`)."""

    def __init__(self, states: Mapping[str, _KeyState], draft_entries: list[dict[str, Any]],
                 server: str | None) -> None:
        self._base = server.rstrip("/") if server else None
        self._by_reference: dict[str, dict[str, Any]] = {}
        self.unresolved: set[str] = set()
        referenced: set[str] = set()
        entries: list[dict[str, Any]] = [*draft_entries]
        read: list[dict[str, Any]] = [entry["resource"] for entry in draft_entries]
        for key, state in states.items():
            read_type = KEY_RESOURCE_TYPES[key]
            for entry in state.entries:
                entries.append(entry)
                if entry["resource"].get("resourceType") == read_type:
                    read.append(entry["resource"])
        for entry in entries:
            resource: dict[str, Any] = entry["resource"]
            if resource.get("resourceType") != "Medication":
                continue
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                self._by_reference[f"Medication/{resource_id}"] = resource
            full_url = _full_url(entry)
            if full_url is not None:
                self._by_reference[_medication_key(full_url, self._base)] = resource
        for resource in read:  # only resources `_build` reads: ignored types fetch nothing
            reference = resource.get("medicationReference")
            target = reference.get("reference") if isinstance(reference, dict) else None
            if isinstance(target, str) and not target.startswith("#"):
                referenced.add(_medication_key(target, self._base))
        self._wanted = referenced - self._by_reference.keys()

    def fetch_missing(self, client: _LazyClient | None, deadline: Deadline) -> None:
        """Fetch `Medication/<id>` references from the FHIR server, in parallel (a reference
        to another server or a `urn:uuid:` is never fetched: the token goes to fhirServer only)."""
        fetchable = {ref for ref in self._wanted
                     if ref.startswith("Medication/") and FHIR_ID.match(ref.split("/", 1)[1])}
        if client is None or not fetchable:
            return
        results = client.fetch({ref: ref for ref in sorted(fetchable)}, deadline)
        failures = []
        for ref, result in results.items():
            if result.outcome is FetchOutcome.OK:
                self._by_reference[ref] = result.entries[0]["resource"]
            elif result.outcome is FetchOutcome.FAILED:
                failures.append(result.detail)
        if failures:
            raise DataUnavailable("FHIR data unavailable: medications (" + failures[0] + ")")

    def resolve(self, resource: dict[str, Any], reference: dict[str, Any]
                ) -> dict[str, Any] | None:
        target = reference.get("reference")
        if not isinstance(target, str):
            self.unresolved.add("?")
            return None
        if target.startswith("#"):
            for contained in parse.as_list(resource.get("contained")):
                if (isinstance(contained, dict) and contained.get("resourceType") == "Medication"
                        and contained.get("id") == target[1:]):
                    return contained
            self.unresolved.add(target)
            return None
        found = self._by_reference.get(_medication_key(target, self._base))
        if found is None:
            self.unresolved.add(target)
        return found


def _draft_entries(context: dict[str, Any]) -> list[dict[str, Any]]:
    draft_orders = context.get("draftOrders")
    if draft_orders is None:
        return []
    bundle = _mapping(draft_orders, "context.draftOrders")
    if bundle.get("resourceType", "Bundle") != "Bundle":
        raise InvalidRequest("context.draftOrders must be a Bundle", field="context.draftOrders")
    try:
        return bundle_entries(bundle)
    except MalformedData as malformed:
        raise InvalidRequest(f"context.draftOrders holds {malformed.detail}",
                             field="context.draftOrders") from None


def _draft_orders(context: dict[str, Any], drafts: list[dict[str, Any]], patient_id: str,
                  medications: _MedicationIndex) -> tuple[DraftOrder, ...]:
    selections = context.get("selections") or []
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise InvalidRequest("context.selections must be a list of references",
                             field="context.selections")
    selected = frozenset(selections)
    orders = []
    for resource in drafts:
        has_subject = any(isinstance(resource.get(name), dict) for name in ("subject",
                                                                               "patient"))
        if has_subject and not belongs_to_patient(resource, patient_id, None):
            raise ForeignPatientData("a draft order is for another patient than "
                                     "context.patientId", field="context.draftOrders")
        orders.append(parse.parse_draft_order(resource, selected, medications.resolve))
    if selected and not any(order.selected for order in orders):
        # order-select names the orders being chosen: none found is an EHR configuration error
        # worth an operator's eye (CDS Hooks 2.0 lets it pass; the values are never logged)
        _LOG.warning("context.selections names none of the %d draft orders: selections are "
                     "'MedicationRequest/<id>' references to context.draftOrders entries",
                     len(orders))
    return tuple(orders)
