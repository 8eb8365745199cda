"""When the data is not data: error OperationOutcomes and unsupported types (CDS Hooks 2.0:
errors come as OperationOutcomes and services SHOULD check for them; a service that cannot
obtain required data SHALL answer 412).

- A prefetch Bundle carrying an OperationOutcome entry with an `error` or `fatal` issue is
  fetched again from `fhirServer`, or 412 without one; information and warning outcomes (HAPI
  adds such to searchsets) keep the Bundle as data.
- A FHIR search page carrying such an entry fails the query (412), diagnostics never echoed.
- A failed search (400/404) is UNSUPPORTED only when a readable CapabilityStatement omits the
  type; without a usable statement it is a failure. An unsupported Condition type is a
  partial gap; other unsupported types are "no data".

The client tests talk to a small scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

from service.config import Settings
from service.errors import DataUnavailable
from service.record.fhir_client import (
    ERROR_OUTCOME_DETAIL,
    Deadline,
    FetchOutcome,
    FetchResult,
    FhirClient,
)
from service.record.gather import gather_record
from service.record.model import PatientRecord
from tests.conftest import assert_operation_outcome, post_json
from tests.personas.persona_cases import AS_OF, Case
from tests.record import helpers as h
from tests.threads import serving

SETTINGS = Settings(profile="dev", fhir_deadline_seconds=5.0)
SECRET = "Patient pat-1 MRN 12345 had a stroke"  # diagnostics may hold patient data


def outcome(*severities: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": "exception", "diagnostics": SECRET}
                      for severity in severities]}


def with_outcome(bundle: dict[str, Any], *severities: str) -> dict[str, Any]:
    bundle = copy.deepcopy(bundle)
    bundle.setdefault("entry", []).append(
        {"resource": outcome(*severities), "search": {"mode": "outcome"}})
    return bundle


def statement(*types: str) -> dict[str, Any]:
    return {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
            "fhirVersion": "4.0.1",
            "rest": [{"mode": "server", "resource": [{"type": t} for t in types]}]}


# ---- a scripted FHIR server ------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ScriptedServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.seen.append(path)
        status, body = self.server.routes.get(path, (404, None))
        data = (body if isinstance(body, bytes) else
                b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return


class _ScriptedServer(ThreadingHTTPServer):
    """Answers `routes[path]` = (status, JSON body or raw bytes); any other path 404."""

    daemon_threads = True

    def __init__(self, routes: dict[str, tuple[int, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.seen: list[str] = []
        self.stop = threading.Event()
        self.base = f"http://127.0.0.1:{self.server_address[1]}/fhir"


@contextmanager
def scripted(routes: dict[str, tuple[int, Any]]) -> Iterator[_ScriptedServer]:
    with serving(_ScriptedServer(routes)) as server:
        yield server


def run(server: _ScriptedServer, query: str = "Condition?patient=pat-1") -> FetchResult:
    client = FhirClient(server.base, token=None, settings=SETTINGS)
    return client.run(query, Deadline(SETTINGS.fhir_deadline_seconds))


# ---- FHIR search pages with OperationOutcome entries ---------------------------------------


@pytest.mark.parametrize("severity", ["error", "fatal"])
def test_search_page_with_an_error_outcome_fails(severity: str) -> None:
    page = with_outcome(h.searchset(h.condition("c1")), "information", severity)
    with scripted({"/fhir/Condition": (200, page)}) as server:
        result = run(server)
    assert result.outcome is FetchOutcome.FAILED
    assert result.detail == ERROR_OUTCOME_DETAIL
    assert SECRET not in result.detail


def test_error_outcome_on_a_next_page_fails_the_query() -> None:
    with scripted({}) as server:
        server.routes["/fhir/Condition"] = (200, h.searchset(
            h.condition("c1"), next_url=f"{server.base}/Condition-page-2"))
        server.routes["/fhir/Condition-page-2"] = (200, with_outcome(h.searchset(), "error"))
        result = run(server)
    assert result.outcome is FetchOutcome.FAILED
    assert result.detail == ERROR_OUTCOME_DETAIL


@pytest.mark.parametrize("severities", [("information",), ("warning",), ("warning", "bogus"),
                                        ()])
def test_search_page_with_only_informational_outcomes_is_data(
        severities: tuple[str, ...]) -> None:
    page = with_outcome(h.searchset(h.condition("c1")), *severities)
    with scripted({"/fhir/Condition": (200, page)}) as server:
        result = run(server)
    assert result.outcome is FetchOutcome.OK
    assert [e["resource"]["id"] for e in result.entries] == ["c1"]


def test_gather_answers_412_for_an_error_outcome_page() -> None:
    prefetch = h.full_prefetch()
    del prefetch["conditions"]
    page = with_outcome(h.searchset(), "error")
    with scripted({"/fhir/Condition": (200, page)}) as server, \
            pytest.raises(DataUnavailable) as raised:
        gather_record(h.hook_request(prefetch, fhirServer=server.base), settings=SETTINGS,
                      templates=h.TEMPLATES)
    assert raised.value.status == 412
    assert f"conditions ({ERROR_OUTCOME_DETAIL})" in raised.value.message
    assert SECRET not in raised.value.message


# ---- unsupported types: only a readable CapabilityStatement says so ---------------------------


@pytest.mark.parametrize("status", [400, 404])
@pytest.mark.parametrize("metadata", [
    pytest.param((404, None), id="no-metadata"),
    pytest.param((500, None), id="metadata-500"),
    pytest.param((200, b"<html>not json"), id="metadata-garbage"),
    pytest.param((200, {"resourceType": "Bundle", "type": "searchset"}), id="not-a-statement"),
    pytest.param((200, statement()), id="statement-listing-nothing"),
])
def test_without_a_usable_capability_statement_a_rejected_search_fails(
        status: int, metadata: tuple[int, Any]) -> None:
    with scripted({"/fhir/Condition": (status, None), "/fhir/metadata": metadata}) as server:
        result = run(server)
        seen = list(server.seen)
    assert result.outcome is FetchOutcome.FAILED
    assert result.detail == f"the FHIR server answered HTTP {status}"
    assert seen.count("/fhir/metadata") == 1


@pytest.mark.parametrize("status", [400, 404, 501])
def test_a_statement_that_omits_the_type_makes_it_unsupported(status: int) -> None:
    routes = {"/fhir/Condition": (status, None),
              "/fhir/metadata": (200, statement("Patient", "Observation"))}
    with scripted(routes) as server:
        result = run(server)
    assert result.outcome is FetchOutcome.UNSUPPORTED


def test_a_statement_that_lists_the_type_keeps_the_failure() -> None:
    routes = {"/fhir/Condition": (404, None), "/fhir/metadata": (200, statement("Condition"))}
    with scripted(routes) as server:
        result = run(server)
    assert result.outcome is FetchOutcome.FAILED


# ---- prefetch Bundles with OperationOutcome entries ------------------------------------------


class _Factory:
    """A FHIR client factory answering every query with `results[key]` (or OK, empty)."""

    def __init__(self, results: dict[str, FetchResult] | None = None) -> None:
        self.results = results or {}
        self.jobs: dict[str, str] = {}

    def __call__(self, base_url: str, token: str | None, settings: Settings) -> Any:
        return self

    def fetch(self, jobs: dict[str, str], deadline: Deadline) -> dict[str, FetchResult]:
        self.jobs.update(jobs)
        return {key: self.results.get(key, FetchResult(FetchOutcome.OK, [])) for key in jobs}


def gather(request: dict[str, Any], factory: _Factory | None = None) -> PatientRecord:
    return gather_record(request, settings=SETTINGS, templates=h.TEMPLATES,
                         fhir_client_factory=factory)


ERROR_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": [
    {"resource": {"resourceType": "OperationOutcome",
                  "issue": [{"severity": "error", "code": "exception"}]},
     "search": {"mode": "outcome"}}]}


@pytest.mark.parametrize("bundle", [
    pytest.param(ERROR_BUNDLE, id="the-audit-example"),
    pytest.param(with_outcome(h.searchset(), "fatal"), id="fatal"),
    pytest.param(with_outcome(h.searchset(), "warning", "error"), id="warning-and-error"),
    pytest.param(with_outcome(h.searchset(h.condition("c1")), "error"), id="with-entries"),
])
def test_prefetch_bundle_with_an_error_outcome_without_fhir_server_is_412(
        bundle: dict[str, Any]) -> None:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = bundle
    with pytest.raises(DataUnavailable) as raised:
        gather(h.hook_request(prefetch))
    assert raised.value.status == 412
    assert raised.value.message == (
        "prefetch incomplete and no fhirServer to complete it: conditions")
    assert SECRET not in raised.value.message


def test_p02_with_an_error_outcome_for_conditions_is_412_not_a_proposal(
        make_app: Callable[..., Flask]) -> None:
    """The audit's case: p02 (MI 11 months ago) whose Conditions the EHR could not read."""
    case = Case("p02", "patient-view", None, frozenset())
    request = case.request()
    request["prefetch"]["conditions"] = copy.deepcopy(ERROR_BUNDLE)
    response = post_json(make_app(dev_as_of=AS_OF).test_client(), case.path, request)
    issue = assert_operation_outcome(response, 412)
    assert "conditions" in json.dumps(issue)


def test_prefetch_bundle_with_an_error_outcome_is_fetched_from_the_fhir_server() -> None:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = with_outcome(h.searchset(), "error")
    fetched = FetchResult(FetchOutcome.OK, [{"resource": h.condition("c7")}])
    factory = _Factory({"conditions": fetched})
    record = gather(h.hook_request(prefetch, fhirServer="https://ehr.example/fhir"), factory)
    assert list(factory.jobs) == ["conditions"]
    assert [c.reference for c in record.conditions] == ["Condition/c7"]
    assert record.is_complete


@pytest.mark.parametrize("severities", [("information",), ("warning",), ("information",
                                                                          "warning")])
def test_prefetch_bundle_with_informational_outcomes_is_data(
        severities: tuple[str, ...]) -> None:
    prefetch = h.full_prefetch()
    prefetch["conditions"] = with_outcome(prefetch["conditions"], *severities)
    factory = _Factory()
    record = gather(h.hook_request(prefetch, fhirServer="https://ehr.example/fhir"), factory)
    assert factory.jobs == {}
    assert [c.reference for c in record.conditions] == ["Condition/c1"]
    assert record.is_complete


# ---- an unsupported type is a partial gap -------------------------------------------------------


def test_an_unsupported_type_is_a_partial_gap() -> None:
    """Absence in a type the server cannot serve is not evidence of absence: no proposal may
    rest on it (the CV verdict reads partial Condition gaps as UNKNOWN)."""
    prefetch = h.full_prefetch()
    del prefetch["conditions"]
    factory = _Factory({"conditions": FetchResult(FetchOutcome.UNSUPPORTED, status=404)})
    record = gather(h.hook_request(prefetch, fhirServer="https://ehr.example/fhir"), factory)
    assert [(g.resource_type, g.reason, g.partial) for g in record.data_gaps] == [
        ("Condition", "not supported by the FHIR server", True)]
    assert record.conditions == ()
    assert not record.is_complete


def test_an_unsupported_medication_type_is_no_data_not_a_partial_gap() -> None:
    """Issue 3: a type the server does not support is "no data", said in the card; only the
    Conditions the exclusions are read from make the record incomplete."""
    prefetch = h.full_prefetch()
    del prefetch["medicationAdministrations"]
    factory = _Factory({"medicationAdministrations": FetchResult(FetchOutcome.UNSUPPORTED,
                                                                 status=404)})
    record = gather(h.hook_request(prefetch, fhirServer="https://ehr.example/fhir"), factory)
    assert [(g.resource_type, g.partial) for g in record.data_gaps] == [
        ("MedicationAdministration", False)]
    assert record.is_complete
