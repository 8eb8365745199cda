"""jsonschema-rs answers "valid" for hook and feedback requests before jsonschema is asked
(service/protocol/validation.py): it must never accept what jsonschema refuses."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fhir_fixtures
from service.hook_requests import build_hook_request
from service.protocol import validation
from tests.protocol import examples
from tests.strategies import JSON_VALUES

AS_OF = date(2026, 6, 15)
HOOKS = ("patient-view", "order-select", "order-sign")
REQUEST_SCHEMAS = [*validation.HOOK_REQUEST_SCHEMAS.values(), "feedback-request"]


def _verdicts(name: str, instance: Any) -> tuple[bool, bool]:
    return (validation.fast_validator(name).is_valid(instance),
            validation.validator(name).is_valid(instance))


def _feedback() -> dict[str, Any]:
    return {"feedback": [{
        "card": "0b2a1f4c-3e5d-4a6b-8c7d-9e0f1a2b3c4d", "outcome": "overridden",
        "overrideReason": {"reason": {"code": "patient-declined", "system": "urn:x"},
                           "userComment": "ok"},
        "outcomeTimestamp": datetime(2026, 6, 15, 10, 0, tzinfo=UTC).isoformat(),
    }]}


def _hook_bodies() -> list[tuple[str, dict[str, Any]]]:
    bodies = []
    for persona in ("p01", "p07", "x02", "b03", "v01"):
        bundle = fhir_fixtures.render_persona(persona, AS_OF)
        order = fhir_fixtures.draft_order("romosozumab", persona, AS_OF)
        for hook in HOOKS:
            drafts = [order] if hook != "patient-view" else None
            body = build_hook_request(hook, bundle, draft_orders=drafts)
            bodies.append((validation.HOOK_REQUEST_SCHEMAS[hook], body))
    for hook in HOOKS:
        bodies.append((validation.HOOK_REQUEST_SCHEMAS[hook], examples.hook_request(hook)))
    bodies.append(("feedback-request", _feedback()))
    return bodies


BODIES = _hook_bodies()


@pytest.mark.parametrize(("name", "body"), BODIES)
def test_both_accept_every_well_formed_request(name: str, body: dict[str, Any]) -> None:
    assert _verdicts(name, body) == (True, True)


HAND_PICKED_BREAKAGES = [
    ("hook", None), ("hook", 7), ("hookInstance", "not-a-uuid"), ("hookInstance", ""),
    ("fhirServer", "ftp://x"), ("fhirServer", "https://ehr.example/fhir\n"),
    ("fhirAuthorization", {"access_token": "t"}), ("context", []), ("context", {}),
    ("prefetch", []), ("extension", "x"),
]


@pytest.mark.parametrize(("name", "body"), BODIES[:-1])
@pytest.mark.parametrize(("field", "value"), HAND_PICKED_BREAKAGES)
def test_both_agree_on_hand_picked_breakages(name: str, body: dict[str, Any], field: str,
                                             value: Any) -> None:
    broken = copy.deepcopy(body)
    broken[field] = value
    fast, full = _verdicts(name, broken)
    assert not fast or full  # never accepted by the fast path alone
    assert fast == full or value == "https://ehr.example/fhir\n"  # Python's `$`: documented


def test_a_request_only_jsonschema_accepts_is_still_accepted() -> None:
    body = examples.hook_request("patient-view")
    body["fhirServer"] = "https://ehr.example/fhir\n"  # "$" matches before a final newline
    assert _verdicts("patient-view-request", body) == (False, True)
    validation.require_valid("patient-view-request", body)  # jsonschema's verdict stands


def _paths(node: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if depth >= 5:
        return found
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "prefetch":  # the schemas do not look inside prefetch Bundles
                found.extend(_paths(value, (*prefix, key), depth + 1))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):
            found.extend(_paths(value, (*prefix, index), depth + 1))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_never_accepts_a_mutated_request_jsonschema_refuses(data: Any) -> None:
    name, body = data.draw(st.sampled_from(BODIES))
    broken = copy.deepcopy(body)
    path = data.draw(st.sampled_from(_paths(broken)))
    parent = broken
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    fast, full = _verdicts(name, broken)
    assert not fast or full
    assert fast == full or _has_final_newline(broken)  # Python's `$`, the one known difference


def _has_final_newline(node: Any) -> bool:
    if isinstance(node, str):
        return node.endswith("\n")
    if isinstance(node, dict):
        return any(_has_final_newline(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_final_newline(v) for v in node)
    return False


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_every_request_schema_has_a_fast_validator(name: str) -> None:
    assert validation.fast_validator(name).is_valid({}) is validation.validator(name).is_valid({})
