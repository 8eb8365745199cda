"""CapabilityStatement parsing: the resource types a server lists, robust to junk."""

from __future__ import annotations

from typing import Any

import pytest

from service.record.fhir_client import capability_types


def statement(*rests: Any) -> dict[str, Any]:
    return {"resourceType": "CapabilityStatement", "rest": list(rests)}


def test_types_of_the_server_rest_entries() -> None:
    body = statement({"mode": "server", "resource": [{"type": "Patient"}, {"type": "Condition"}]},
                     {"mode": "client", "resource": [{"type": "Observation"}]})
    assert capability_types(body) == frozenset({"Patient", "Condition"})


@pytest.mark.parametrize("body", [
    None, [], "x", {"resourceType": "Bundle"}, statement(), statement({"mode": "server"}),
    statement({"mode": "server", "resource": "Patient"}), statement("junk", 3),
    statement({"mode": "server", "resource": [{"type": ["Patient"]}, 7]}),
    {"resourceType": "CapabilityStatement", "rest": {"resource": []}},
])
def test_nothing_listed_or_junk_means_unknown(body: Any) -> None:
    assert capability_types(body) is None
