"""The cards' citation ids and order codes agree with the real knowledge data."""

from __future__ import annotations

from cards import build_cards, wording
from cards.orders import order_catalog
from service.knowledge import load_knowledge
from tests.cards import builders as b
from tests.cards.invariants import by_topic, check_cards


def test_every_topic_citation_exists_with_an_absolute_url():
    citations = load_knowledge().citations
    for topic, ids in wording.TOPIC_CITATIONS.items():
        for cid in ids:
            assert cid in citations, f"{topic}: {cid}"
            assert citations[cid].url.startswith("https://"), cid
    assert wording.EU_CV_CITATION in citations
    assert set(wording.TOPIC_CITATIONS) == set(wording.TOPIC_DISPLAY)


def test_order_codes_are_knowledge_products_with_the_same_display():
    displays = load_knowledge().product_displays
    for drug, product in order_catalog().items():
        coding = product["coding"]
        assert coding["code"] in displays, drug
        if "display" in coding:
            assert coding["display"] == displays[coding["code"]]


def test_source_is_the_label_or_guideline_with_real_knowledge():
    knowledge = load_knowledge()
    cards = check_cards(build_cards("patient-view", b.assessment(denosumab=b.denosumab_overdue()),
                                    b.record(), knowledge, patient_id="p"))
    proposal = by_topic(cards, "romosozumab-proposal")
    assert proposal["source"]["label"] == knowledge.citations["evenity-indication"].label
    assert proposal["source"]["url"] == knowledge.citations["evenity-indication"].url
    overdue = by_topic(cards, "denosumab-overdue")
    assert overdue["source"]["url"] == "https://doi.org/10.1210/clinem/dgaa756"
    assert "[Lyu et al., Ann Intern Med 2020](https://pubmed.ncbi.nlm.nih.gov/32716706/) [V]" \
        in overdue["detail"]
