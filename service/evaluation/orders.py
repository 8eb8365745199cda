"""Classify the draft orders of order-select / order-sign for the hooks."""

from __future__ import annotations

from service.evaluation.model import ClassifiedOrder, OrderClass
from service.knowledge import Knowledge
from service.record.model import DraftOrder

_CLASS_MAP = {"bisphosphonate": OrderClass.BISPHOSPHONATE,
              "weaker-agent": OrderClass.WEAKER_AGENT,
              "non-preventing": OrderClass.NON_PREVENTING}


def classify_order(knowledge: Knowledge, order: DraftOrder) -> ClassifiedOrder:
    """The knowledge drug of one draft order and its classes (OTHER when not osteoporosis)."""
    match = knowledge.match_drug(order.codings, order.text)
    if match is None or not match.counts or "osteoporosis-therapy" not in match.drug.classes:
        return ClassifiedOrder(order.reference, None, frozenset({OrderClass.OTHER}),
                               order.selected)
    classes = {cls for name, cls in _CLASS_MAP.items() if name in match.drug.classes}
    if match.drug.id == "romosozumab":
        classes.add(OrderClass.ROMOSOZUMAB)
    if match.drug.id == "denosumab":
        classes.add(OrderClass.DENOSUMAB)
    return ClassifiedOrder(order.reference, match.drug.id, frozenset(classes), order.selected)


def classify_orders(knowledge: Knowledge, orders: tuple[DraftOrder, ...]
                    ) -> tuple[ClassifiedOrder, ...]:
    return tuple(classify_order(knowledge, order) for order in orders)
