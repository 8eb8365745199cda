"""README, "Errors": messages name the field and the rule, never a request value. An unknown
service id (in a service call or a feedback call) is not repeated in the answer."""

from __future__ import annotations

import pytest

from tests.conftest import assert_operation_outcome, post_json
from tests.protocol.examples import hook_request

UNKNOWN_ID = "zz-echo-probe-7f3a"


@pytest.mark.parametrize(("path", "body"), [
    (f"/cds-services/{UNKNOWN_ID}", hook_request("patient-view")),
    (f"/cds-services/{UNKNOWN_ID}/feedback", {"feedback": []}),
])
def test_an_unknown_service_id_is_not_echoed(client, path: str, body: dict) -> None:
    response = post_json(client, path, body)
    issue = assert_operation_outcome(response, 404, "not-found")
    assert issue["diagnostics"] == "No CDS service with this id; GET /cds-services lists them."
    assert UNKNOWN_ID not in response.get_data(as_text=True)
