"""Card details render as the CDS Hooks Sandbox renders them (CommonMark/GFM Markdown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_card_details_render_to_clean_html(path: Path) -> None:
    markdown = MarkdownIt("commonmark").enable("table")
    cards = json.loads(path.read_text(encoding="utf-8"))["cards"]
    assert cards
    for card in cards:
        html = markdown.render(card["detail"])
        assert html.count("<strong>") >= 2, html[:200]  # section headings
        assert "<ul>" in html
        assert '<a href="https://' in html  # citations are links
        assert "**" not in html  # no unrendered emphasis
        assert "<ul>\n<li>\n<ul>" not in html  # no empty bullet wrapping a sub-list
