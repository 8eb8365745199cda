"""Conformance cases 1-4 (research/cds-hooks-2.0.md section 5): discovery and service ids."""

from __future__ import annotations

import re

import pytest

from service.record.queries import KEY_RESOURCE_TYPES, PREFETCH_KEYS
from tests.conftest import assert_operation_outcome, post_json
from tests.protocol.examples import SERVICE_IDS, hook_request

ALLOWED_TOKENS = {"{{context.patientId}}", "{{context.userId}}", "{{context.encounterId}}",
                  "{{userPractitionerId}}", "{{userPractitionerRoleId}}", "{{userPatientId}}",
                  "{{userRelatedPersonId}}"}
SEARCH_PARAMETER = re.compile(r"^(patient|code|_sort|_count)=")


def test_discovery_lists_the_three_services(client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    services = {service["id"]: service for service in response.get_json()["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == {
        sid: hook for hook, sid in SERVICE_IDS.items()}
    for service in services.values():
        assert service["title"]
        assert service["description"]
        assert tuple(service["prefetch"]) == PREFETCH_KEYS


def test_discovery_states_the_usage_requirements(client) -> None:
    """CDS Hooks 2.0 `usageRequirements`: the data (every resource type the prefetch reads) and
    the draft order ids the delete actions need."""
    for service in client.get("/cds-services").get_json()["services"]:
        text = service["usageRequirements"]
        for resource_type in KEY_RESOURCE_TYPES.values():
            assert resource_type in text
        assert "draftOrders with an id" in text


def test_order_sign_description_promises_blocks_only(client) -> None:
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    description = services["osteoporosis-order-sign"]["description"]
    assert "blocks only" in description
    assert "never proposals" in description
    assert ("(a stateless service cannot know what order-select showed, and some EHRs fire only "
            "one hook)") in description
    assert ". " not in description  # one sentence
    assert description.endswith(".")


def test_all_services_share_the_same_prefetch_templates(client) -> None:
    services = client.get("/cds-services").get_json()["services"]
    assert len({tuple(sorted(s["prefetch"].items())) for s in services}) == 1


def test_prefetch_templates_are_legal_cds_hooks_2_0(client) -> None:
    """Case 2: only root context tokens, only read / type search with the 2.0 subset."""
    prefetch = client.get("/cds-services").get_json()["services"][0]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    for key, template in prefetch.items():
        tokens = set(re.findall(r"\{\{[^}]*\}\}", template))
        assert tokens <= ALLOWED_TOKENS, (key, tokens)
        assert "draftOrders" not in template
        assert "selections" not in template
        assert "today()" not in template
        assert "sort:desc" not in template
        if key == "patient":
            continue
        resource_type, _, query = template.partition("?")
        assert re.fullmatch(r"[A-Z][A-Za-z]+", resource_type)
        for parameter in query.split("&"):
            assert SEARCH_PARAMETER.match(parameter), (key, parameter)
    for key in ("conditions", "medicationStatements", "medicationRequests",
                "medicationAdministrations"):
        assert "code=" not in prefetch[key]
        assert "_sort" not in prefetch[key]
        assert prefetch[key].endswith("&_count=1000")  # one page for a long history
    observations = prefetch["observations"]
    assert "_sort=-date" in observations
    assert observations.endswith("&_count=1000")
    assert "http://loinc.org|38267-1" in observations  # lumbar spine T-score, from the data


def test_unknown_service_is_404_operation_outcome(client) -> None:
    """Case 4."""
    response = post_json(client, "/cds-services/unknown-id", hook_request("patient-view"))
    issue = assert_operation_outcome(response, 404, "not-found")
    assert issue["diagnostics"] == "No CDS service with this id; GET /cds-services lists them."
    assert "unknown-id" not in response.get_data(as_text=True)  # no request value echoed
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_path_and_wrong_method_are_operation_outcomes(client) -> None:
    assert_operation_outcome(client.get("/nowhere"), 404, "not-found")
    response = client.get("/cds-services/osteoporosis-order-select")
    assert_operation_outcome(response, 405, "not-supported")
    assert "POST" in response.headers["Allow"]
    assert_operation_outcome(client.delete("/cds-services"), 405)


@pytest.mark.parametrize("hook", sorted(SERVICE_IDS))
def test_each_service_dispatches_on_its_own_hook(make_app, hook) -> None:
    """Case 3: each id answers exactly its hook; another hook is a 400 naming `hook`."""
    from tests.protocol.examples import full_card

    client = make_app(card_producers=[full_card]).test_client()
    response = post_json(client, f"/cds-services/{SERVICE_IDS[hook]}", hook_request(hook))
    assert response.status_code == 200
    assert f"Test card for {hook}" in response.get_json()["cards"][0]["summary"]
    other = next(h for h in SERVICE_IDS if h != hook)
    response = post_json(client, f"/cds-services/{SERVICE_IDS[hook]}", hook_request(other))
    issue = assert_operation_outcome(response, 400, "invalid")
    assert issue["expression"] == ["hook"]
