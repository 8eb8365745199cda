"""The README stays true: every setting is documented and the curl example still works."""

from __future__ import annotations

import json
from pathlib import Path

from service.config import Settings
from service.hook_requests import build_hook_request
from tests.conftest import post_json
from tests.protocol.examples import romosozumab_draft, small_patient_bundle

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "order-select.json"


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [f"OSTEOCDS_{name.upper()}" for name in Settings.model_fields
               if f"`OSTEOCDS_{name.upper()}`" not in readme]
    assert missing == [], f"document these settings in README.md: {missing}"


def test_readme_quickstart_is_make_run_and_make_test() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
    assert "-d @docs/examples/order-select.json" in readme


def test_example_request_is_what_the_builder_makes() -> None:
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    rebuilt = build_hook_request("order-select", small_patient_bundle(),
                                 draft_orders=[romosozumab_draft()],
                                 hook_instance=example["hookInstance"])
    assert example == rebuilt


def test_example_request_is_answered(client) -> None:
    """The README's curl: the real clinical producer answers a valid response."""
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    response = post_json(client, "/cds-services/osteoporosis-order-select", example)
    assert response.status_code == 200, response.get_json()
    assert isinstance(response.get_json()["cards"], list)
