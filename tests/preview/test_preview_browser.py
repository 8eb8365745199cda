"""End-to-end: the preview page in headless Debian Chromium against a real `osteocds serve --dev`.

A person's path: open the page, choose a persona and romosozumab order-select, fire, read the
cards (indicator colours, the topics the fixtures expect), accept a suggestion and override a card,
then check the feedback landed in the service's store tagged 'preview' and that
`osteocds feedback-report` leaves it out by default. The `<script>` persona must render inert.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import fhir_fixtures
from service.config import Profile, Settings
from service.store import open_store
from tests.preview.conftest import REPO_ROOT, ServedApp

pytestmark = pytest.mark.browser

INDICATOR_COLOURS = {  # the CSS custom properties --info, --warning, --critical
    "info": "rgb(47, 111, 209)",
    "warning": "rgb(183, 121, 31)",
    "critical": "rgb(197, 48, 48)",
}
SCRIPT_TEXT = "<script>alert(1)</script>"


@pytest.fixture
def page(browser_context: Any, served_app: ServedApp) -> Iterator[Any]:
    """A fresh tab on the preview page; every JavaScript dialog is recorded and dismissed."""
    tab = browser_context.new_page()
    tab.dialogs = []
    tab.page_errors = []

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    tab.goto(f"{served_app.base_url}/preview")
    tab.wait_for_selector("body[data-ready=true]")
    try:
        yield tab
    finally:
        tab.close()


def fire(page: Any, persona: str, hook: str, order: str | None = None) -> dict[str, Any]:
    """Choose the persona, hook and order, fire, and return the service response shown."""
    page.check("input[name=source][value=persona]")
    page.select_option("#persona", persona)
    page.select_option("#hook", hook)
    if order is not None:
        page.select_option("#order", order)
    page.select_option("#mode", "prefetch")
    page.click("#fire")
    page.wait_for_selector("#status.status-ok, #status.status-error", timeout=30_000)
    status = page.text_content("#status")
    assert "status-ok" in page.get_attribute("#status", "class"), status
    return json.loads(page.text_content("#response-json"))


def expected_topics(persona: str, hook: str, order: str | None) -> list[str]:
    scenarios = fhir_fixtures.load_expected()["personas"][persona]["hooks"][hook]
    if isinstance(scenarios, dict):
        return sorted(scenarios["topics"])
    for scenario in scenarios:
        if scenario["order"] == order:
            return sorted(scenario["topics"])
    raise AssertionError(f"no expected scenario for {persona} {hook} {order}")


def rendered_cards(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        "[data-testid=card]",
        """nodes => nodes.map(node => ({
            uuid: node.dataset.uuid || null,
            topic: node.dataset.topic || null,
            indicator: node.dataset.indicator,
            badge: node.querySelector('.indicator').textContent,
            badgeColour: getComputedStyle(node.querySelector('.indicator')).backgroundColor,
            borderColour: getComputedStyle(node).borderLeftColor,
            summary: node.querySelector('.card-summary').textContent,
            accept: node.querySelectorAll('[data-testid=accept]:not([disabled])').length,
        }))""",
    )


def stored_preview_feedback(served: ServedApp) -> list[Any]:
    store = open_store(Settings(profile=Profile.DEVELOPMENT, data_dir=served.data_dir))
    try:
        return list(store.iter_feedback())
    finally:
        store.close()


def test_romosozumab_order_select_cards_accept_and_override(
    page: Any, served_app: ServedApp, artifacts_dir: Any
) -> None:
    persona, hook, order = "p02", "order-select", "romosozumab"
    response = fire(page, persona, hook, order)

    # The request shown is the one the page sent: order-select with the romosozumab draft.
    shown_request = json.loads(page.text_content("#request-json"))
    assert shown_request["hook"] == hook
    draft = shown_request["context"]["draftOrders"]["entry"][0]["resource"]
    assert draft["medicationCodeableConcept"]["coding"][0]["code"] == "2123184"
    assert shown_request["context"]["selections"] == [f"MedicationRequest/{draft['id']}"]
    assert set(shown_request["prefetch"]) >= {"patient", "conditions", "observations"}

    # The cards rendered are the service's, with the topics the fixtures expect and EHR colours.
    cards = rendered_cards(page)
    assert len(cards) == len(response["cards"])
    assert sorted(card["topic"] for card in cards) == expected_topics(persona, hook, order)
    for shown, sent in zip(cards, response["cards"], strict=True):
        assert shown["indicator"] == sent["indicator"]
        assert shown["badge"] == sent["indicator"]
        assert shown["badgeColour"] == INDICATOR_COLOURS[sent["indicator"]]
        assert shown["borderColour"] == INDICATOR_COLOURS[sent["indicator"]]
        assert shown["summary"] == sent["summary"]

    # The key data shows the chart facts the card rests on (the recent MI for p02).
    key_data = page.text_content("[data-testid=key-data]")
    assert "Myocardial infarction" in key_data
    assert "Fractures" in key_data

    # Accept a suggestion: real feedback, stored, tagged 'preview'.
    card_uuid = page.locator("[data-testid=card]").filter(
        has=page.locator("[data-testid=accept]:not([disabled])")).first.get_attribute("data-uuid")
    card_node = page.locator(f"[data-testid=card][data-uuid='{card_uuid}']")
    sent_card = next(card for card in response["cards"] if card.get("uuid") == card_uuid)
    suggestion = sent_card["suggestions"][0]
    card_node.locator("[data-testid=accept]").first.click()
    card_node.locator(".feedback-ok").wait_for(timeout=10_000)
    page.screenshot(path=str(artifacts_dir / "order-select-p02-accepted.png"), full_page=True)

    stored = [row for row in stored_preview_feedback(served_app) if row.card_uuid == card_uuid]
    assert len(stored) == 1, stored
    assert stored[0].outcome == "accepted"
    assert stored[0].accepted_suggestions == (suggestion["uuid"],)
    assert stored[0].source == "preview"
    assert stored[0].service_id == "osteoporosis-order-select"

    # Left out of feedback-report by default, counted with --include-preview.
    assert _feedback_count(_report(served_app)) == 0
    assert _feedback_count(_report(served_app, "--include-preview")) >= 1


def test_weaker_agent_order_shows_proposal_and_caution(page: Any, artifacts_dir: Any) -> None:
    persona, hook, order = "p03", "order-select", "alendronate"
    response = fire(page, persona, hook, order)
    cards = rendered_cards(page)
    assert sorted(card["topic"] for card in cards) == expected_topics(persona, hook, order)
    assert {card["indicator"] for card in cards} == {c["indicator"] for c in response["cards"]}
    for card in cards:
        assert card["borderColour"] == INDICATOR_COLOURS[card["indicator"]]
    # The screenshot the README shows (docs/preview.png is a copy of a good one).
    page.screenshot(path=str(artifacts_dir / "order-select-p03-alendronate.png"), full_page=True)


def test_override_sends_the_chosen_reason(page: Any, served_app: ServedApp) -> None:
    response = fire(page, "p02", "order-select", "romosozumab")
    card = next(c for c in response["cards"] if c.get("uuid") and c.get("overrideReasons"))
    reason = card["overrideReasons"][-1]
    node = page.locator(f"[data-testid=card][data-uuid='{card['uuid']}']")
    node.locator("[data-testid=override-reason]").select_option(label=reason["display"])
    node.locator(".override-comment").fill("discussed with cardiology")
    node.locator("[data-testid=override]").click()
    node.locator(".feedback-ok").wait_for(timeout=10_000)

    stored = [row for row in stored_preview_feedback(served_app) if row.card_uuid == card["uuid"]]
    assert [row.outcome for row in stored] == ["overridden"]
    assert stored[0].override_reason_code == reason["code"]
    assert stored[0].override_comment == "discussed with cardiology"
    assert stored[0].source == "preview"


def test_script_persona_renders_inert(page: Any, artifacts_dir: Any) -> None:
    response = fire(page, "x01", "patient-view")
    assert response["cards"], "x01 is clinically P01: the service proposes romosozumab"

    # The injected text is shown as text, in the key data and in the request shown...
    key_data = page.text_content("[data-testid=key-data]")
    assert f"{SCRIPT_TEXT} vertebral fracture" in key_data
    assert SCRIPT_TEXT in page.text_content("#request-json")
    # ...and nothing ran: no dialog, no script or handler element made from the data.
    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.page_errors == []
    injected = page.eval_on_selector_all(
        "#cards script, #key-data script, #cards img, #cards [onerror], #cards [onclick]",
        "nodes => nodes.length",
    )
    assert injected == 0
    assert page.evaluate("document.scripts.length") == 2  # the page's config and preview.js
    page.screenshot(path=str(artifacts_dir / "patient-view-x01-inert.png"), full_page=True)


def test_fhir_server_patient_without_prefetch_and_a_token(
    page: Any, served_app: ServedApp
) -> None:
    """Development: a FHIR server URL, a patient id and a bearer token typed in; the service
    queries the server itself (no prefetch) with the token from fhirAuthorization."""
    from datetime import date

    from tests.fhir_server.fixture import running_fhir_server

    as_of = date.fromisoformat(served_app.as_of)
    with running_fhir_server(token="preview-secret") as server:
        server.load(fhir_fixtures.render_transaction("p01", as_of))
        page.check("input[name=source][value=fhir]")
        page.fill("#fhir-server", server.base_url)
        page.fill("#patient-id", fhir_fixtures.patient_id("p01"))
        page.fill("#token", "preview-secret")
        page.select_option("#hook", "patient-view")
        page.select_option("#mode", "fhir")
        page.click("#fire")
        page.wait_for_selector("#status.status-ok, #status.status-error", timeout=30_000)
        assert "status-ok" in page.get_attribute("#status", "class"), page.text_content("#status")

    shown = json.loads(page.text_content("#request-json"))
    assert "prefetch" not in shown
    assert shown["fhirServer"] == server.base_url
    assert shown["fhirAuthorization"]["access_token"] == "preview-secret"
    topics = sorted(card["topic"] for card in rendered_cards(page))
    assert topics == expected_topics("p01", "patient-view", None)
    assert "alendronate" in page.text_content("[data-testid=key-data]")


def _report(served: ServedApp, *flags: str) -> dict[str, Any]:
    command = [str(REPO_ROOT / ".venv" / "bin" / "osteocds"), "feedback-report", "--json", *flags]
    env = {"OSTEOCDS_DATA_DIR": str(served.data_dir), "OSTEOCDS_PROFILE": "dev", "PATH": "/usr/bin"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    return json.loads(done.stdout)


def _feedback_count(report: dict[str, Any]) -> int:
    return sum(topic["feedback"] for topic in report["topics"])
