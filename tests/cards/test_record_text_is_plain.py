"""Text that comes from the patient's record (a medication's name, a diagnosis typed as free text,
a unit) is shown as typed: it never becomes a link, an image, emphasis or HTML in the card's
Markdown detail, however it is written."""

from __future__ import annotations

from typing import Any

import pytest
from markdown_it import MarkdownIt

import fhir_fixtures
from cards import format as fmt
from tests.personas.calls import post_hook, the_card
from tests.personas.persona_cases import AS_OF

HOSTILE = "[Stop all therapy](https://evil.example/x) ![i](https://evil.example/i.png) " \
          "*now* _now_ `code` <b>bold</b> a|b \\"
MARKDOWN = MarkdownIt("commonmark").enable("table")


@pytest.mark.parametrize("text", [HOSTILE, "plain text", "", "eGFR < 30", "a_b*c"])
def test_plain_renders_as_the_same_characters(text: str) -> None:
    html = MARKDOWN.renderInline(fmt.plain(text))
    for markup in ("<a ", "<img", "<em>", "<code>", "<b>"):
        assert markup not in html
    # what renders is the text itself, HTML-escaped
    assert html == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _no_markup(detail: str) -> None:
    html = MARKDOWN.render(detail)
    for markup in ('<a href="https://evil', "<img", "<b>bold</b>", "<em>now</em>"):
        assert markup not in html


def test_a_hostile_medication_name_is_shown_as_typed(make_app) -> None:
    """P01's alendronate (fracture on therapy) named by the record with Markdown in it."""
    bundle = fhir_fixtures.render_persona("p01", AS_OF)
    for entry in bundle["entry"]:
        resource: dict[str, Any] = entry["resource"]
        concept = resource.get("medicationCodeableConcept")
        if concept is not None:
            concept["text"] = HOSTILE
    detail = the_card(post_hook(make_app, "patient-view", bundle), "romosozumab-proposal")[
        "detail"]
    assert "Stop all therapy" in detail
    _no_markup(detail)


def test_a_hostile_free_text_diagnosis_is_shown_as_typed(make_app) -> None:
    """A diagnosis the rules cannot read is named on the card: as text, never as markup."""
    bundle = fhir_fixtures.render_persona("p01", AS_OF)
    bundle["entry"].append({"resource": {
        "resourceType": "Condition", "id": "typed",
        "subject": {"reference": f"Patient/{fhir_fixtures.patient_id('p01')}"},
        "code": {"text": HOSTILE}}})
    detail = the_card(post_hook(make_app, "patient-view", bundle), "romosozumab-proposal")[
        "detail"]
    assert "Stop all therapy" in detail
    _no_markup(detail)
