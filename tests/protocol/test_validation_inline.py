"""Request schemas are compiled with their cross-document `$ref`s inlined (a cost, not a
behaviour, change): the same verdicts and messages as the schemas as written."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from service.protocol import validation
from tests.protocol.examples import hook_request


def _as_written(name: str) -> Draft202012Validator:
    registry, documents = validation._registry_and_documents()
    return Draft202012Validator(documents[name], registry=registry)


def _messages(validator: Draft202012Validator, body: object) -> list[tuple[str, str]]:
    errors = sorted(validator.iter_errors(body), key=validation._error_rank)
    return [(validation.field_path(validation._most_specific(e)),
             validation.describe(validation._most_specific(e))) for e in errors]


def _variants(body: dict) -> list[object]:
    broken = []
    for mutate in (
        lambda b: b.pop("hookInstance"),
        lambda b: b.update(hookInstance=""),
        lambda b: b["context"].pop("patientId"),
        lambda b: b["context"].update(patientId="bad id"),
        lambda b: b.update(fhirServer="not a url"),
        lambda b: b.update(fhirAuthorization={"access_token": "t"}),
        lambda b: b.update(extension=[]),
        lambda b: b.update(prefetch={"patient": 3}),
        lambda b: b["context"].update(draftOrders={"resourceType": "Bundle",
                                                   "entry": [{"resource": {}}]}),
        lambda b: b["context"].update(selections=[]),
    ):
        variant = copy.deepcopy(body)
        mutate(variant)
        broken.append(variant)
    return [body, *broken, [], "x"]


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_inlined_request_schemas_judge_like_the_written_ones(hook: str) -> None:
    name = validation.HOOK_REQUEST_SCHEMAS[hook]
    compiled = validation.validator(name)
    assert "$ref" not in repr(compiled.schema)
    for body in _variants(hook_request(hook)):
        assert _messages(compiled, body) == _messages(_as_written(name), body)


def test_recursive_references_stay_references() -> None:
    compiled = validation.validator("service-response")
    assert "urn:osteocds:schema:common#/$defs/nonEmptyJson" in repr(compiled.schema)
    assert validation.schema_errors("service-response", {"cards": [{"summary": ""}]})
