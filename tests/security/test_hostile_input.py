"""Hostile input: nesting depth and resource-count limits, and hypothesis fuzzing of valid requests
mutated deep inside context and prefetch through the real app: never a 5xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.protocol.limits import count_request_resources, json_nesting_depth, within_depth
from tests.security import helpers as h

ORDER_SELECT = "/cds-services/osteoporosis-order-select"
SERVICES = {"order-select": ORDER_SELECT,
            "order-sign": "/cds-services/osteoporosis-order-sign",
            "patient-view": "/cds-services/osteoporosis-patient-view"}


def test_depth_scanner_ignores_brackets_inside_strings() -> None:
    assert json_nesting_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]"}]}', 64) == 3
    assert json_nesting_depth(b"[" * 100 + b"]" * 100, 10) == 11  # stops early past the limit


def test_deep_nesting_is_a_clear_400_not_a_recursion_error(dev_app: Flask) -> None:
    body = h.hook_request()
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"x": [deep]}
    body["context"]["extra"] = deep
    response = dev_app.test_client().post(ORDER_SELECT, json=body)
    assert response.status_code == 400
    assert "nesting" in response.get_json()["issue"][0]["diagnostics"]
    bomb = dev_app.test_client().post(ORDER_SELECT, data="[" * 100_000 + "]" * 100_000,
                                      content_type="application/json")
    assert bomb.status_code == 400  # past orjson's 1,024 levels: answered from the byte scan
    assert "nesting" in bomb.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("limit", [8, 64, 512])
def test_depth_check_on_the_parsed_body_at_the_boundary(limit: int) -> None:
    for opening, closing in (("[", "]"), ('{"a": ', "}")):
        at_limit = json.loads(opening * limit + "1" + closing * limit)
        past_limit = json.loads(opening * (limit + 1) + "1" + closing * (limit + 1))
        assert within_depth(at_limit, limit)
        assert not within_depth(past_limit, limit)
    assert all(within_depth(value, limit) for value in ("scalar", [], {}))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"ab', max_size=3), children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.integers(min_value=1, max_value=12))
def test_depth_check_on_the_parsed_body_agrees_with_the_byte_scan(value: Any, limit: int) -> None:
    text = json.dumps(value).encode()
    assert within_depth(value, limit) == (json_nesting_depth(text, limit) <= limit)


def test_too_many_prefetch_resources_is_a_clear_400(make_app: Callable[..., Flask]) -> None:
    app = make_app(profile="dev", max_prefetch_entries=50)
    body = h.hook_request()
    body["prefetch"]["observations"]["entry"] = [
        {"resource": {"resourceType": "Observation", "id": f"o{i}", "status": "final"}}
        for i in range(60)]
    assert count_request_resources(body) > 50
    response = app.test_client().post(ORDER_SELECT, json=body)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "too-costly"


def test_body_over_the_size_limit_is_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(profile="dev", max_body_bytes=10_000)
    body = h.hook_request(padding="x" * 20_000)
    assert app.test_client().post(ORDER_SELECT, json=body).status_code == 413


# --- property-based fuzzing ----------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(["", "2024-02-30", "1900-01-01T25:61:00Z", "-0001-01-01", "9999-12-31",
                     "2024-13", "Patient/other", "urn:uuid:x", "http://loinc.org", "NaN",
                     "\u0000", "<script>alert(1)</script>", "../../etc/passwd", "{{context.x}}"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["resourceType", "id", "code", "coding", "system",
                                       "value", "entry", "resource", "reference", "x"]),
                      children, max_size=3),
    max_leaves=8,
)
CLINICAL_RESOURCES = [
    {"resourceType": "Observation", "id": "o1", "status": "final",
     "subject": {"reference": f"Patient/{h.PATIENT_ID}"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "38265-5"}]},
     "effectiveDateTime": "2024-05-01", "valueQuantity": {"value": -3.1, "unit": "{T-score}"}},
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{h.PATIENT_ID}"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                              "condition-clinical", "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "22298006"}]},
     "onsetDateTime": "2024-06-01"},
    {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
     "subject": {"reference": f"Patient/{h.PATIENT_ID}"},
     "medicationCodeableConcept": {"coding": [
         {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "993449"}]},
     "effectivePeriod": {"start": "2023-01-01", "end": "2024-01-01"}},
]


def rich_request(hook: str) -> dict[str, Any]:
    body = h.hook_request(hook)
    observation, condition, statement = copy.deepcopy(CLINICAL_RESOURCES)
    body["prefetch"]["observations"]["entry"] = [{"resource": observation}]
    body["prefetch"]["conditions"]["entry"] = [{"resource": condition}]
    body["prefetch"]["medicationStatements"]["entry"] = [{"resource": statement}]
    return body


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `node` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*prefix, index))
    return found


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    hook = draw(st.sampled_from(sorted(SERVICES)))
    body = rich_request(hook)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = paths_of(body)
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(JSON_VALUES)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return hook, body


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    from service.app import create_app
    from service.config import Settings

    data_dir = tmp_path_factory.mktemp("fuzz-data")
    return create_app(Settings(profile="dev", data_dir=data_dir))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=mutated_requests())
def test_mutated_requests_never_cause_a_server_error(fuzz_app: Flask,
                                                     case: tuple[str, dict[str, Any]]) -> None:
    hook, body = case
    response = fuzz_app.test_client().post(SERVICES[hook], data=json.dumps(body),
                                           content_type="application/json")
    assert response.status_code < 500, (response.status_code, response.get_json())
    if response.status_code != 200:
        assert response.get_json()["resourceType"] == "OperationOutcome"


def test_the_unmutated_requests_are_answered(fuzz_app: Flask) -> None:
    # The fuzzing starts from requests the service accepts, so mutations reach the deep layers.
    for hook, path in SERVICES.items():
        response = fuzz_app.test_client().post(path, json=rich_request(hook))
        assert response.status_code == 200, response.get_json()
