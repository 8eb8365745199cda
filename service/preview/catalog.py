"""The draft orders the preview page can place, coded from the knowledge data.

The page offers one product per drug. Which product is the preview's choice (the usual
osteoporosis product); its RxNorm code must be a product of that drug in
`service/knowledge/data/drugs.json` (checked on load), and the display comes from there too, so the
preview never carries a code of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from service import hook_requests
from service.errors import ConfigurationError, InvalidRequest
from service.knowledge import load_knowledge
from service.record.model import Coding

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# (knowledge drug id, RxNorm product code, label on the page); codes as listed in drugs.json.
PREVIEW_PRODUCTS: tuple[tuple[str, str, str], ...] = (
    ("romosozumab", "2123184", "Romosozumab (Evenity)"),
    ("denosumab", "993452", "Denosumab 60 mg (Prolia)"),
    ("alendronate", "904431", "Alendronate 70 mg tablet"),
    ("zoledronic-acid", "705824", "Zoledronic acid 5 mg/100 mL"),
    ("teriparatide", "1435115", "Teriparatide pen"),
    ("abaloparatide", "1921082", "Abaloparatide pen"),
    ("raloxifene", "1490065", "Raloxifene 60 mg tablet"),
)


@dataclass(frozen=True)
class PreviewOrder:
    drug: str
    label: str
    coding: dict[str, str]


@cache
def preview_orders() -> tuple[PreviewOrder, ...]:
    """The orderable drugs, each checked against the knowledge terminology."""
    knowledge = load_knowledge()
    orders = []
    for drug, code, label in PREVIEW_PRODUCTS:
        display = knowledge.product_displays.get(code)
        match = knowledge.match_drug((Coding(RXNORM, code, display),))
        if display is None or match is None or match.drug.id != drug or not match.counts:
            raise ConfigurationError(
                f"preview: RxNorm {code} is not a {drug} product in drugs.json"
            )
        coding = {"system": RXNORM, "code": code, "display": display}
        orders.append(PreviewOrder(drug, f"{label} · RxNorm {code}", coding))
    return tuple(orders)


def draft_order(drug: str, patient_id: str, as_of: date) -> dict[str, Any]:
    """A draft MedicationRequest of `drug` for `context.draftOrders`."""
    for order in preview_orders():
        if order.drug == drug:
            request = hook_requests.draft_medication_request(
                patient_id, order.coding, order_id=f"preview-draft-{drug}"
            )
            request["authoredOn"] = as_of.isoformat()
            return request
    raise InvalidRequest("unknown draft order")
