"""CDS cards built from an `Assessment`; the hooks choose which cards fit the moment.

Public interface:

- `build_cards(hook: str, assessment: Assessment, record: PatientRecord, knowledge: Knowledge,
  *, patient_id: str, new_uuid: Callable[[], str] = uuid4 string, user_id: str | None = None,
  encounter_id: str | None = None) -> list[dict]`: the CDS Hooks 2.0 cards for this hook
  (`patient-view`, `order-select`, `order-sign`), every card with a `uuid` and `source.topic`
  coded in `urn:osteocds:card-topic`. `user_id` and `encounter_id` are the context's `userId` and
  `encounterId`: the orders a card proposes name them as requester (a Practitioner or
  PractitionerRole only) and encounter. Pure: no Flask, no I/O.
- `card_topic(card) -> str`: the topic code of a card built here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cards import denosumab, romosozumab
from cards.context import HOOKS, CardContext, random_uuid
from cards.orders import encounter_reference, requester_reference
from cards.selection import topics_for
from cards.wording import TOPIC_DISPLAY, TOPIC_SYSTEM
from service.evaluation.model import Assessment
from service.record.model import PatientRecord

if TYPE_CHECKING:
    from service.knowledge import Knowledge

CardBuilder = Callable[[CardContext], dict[str, Any] | None]

BUILDERS: dict[str, CardBuilder] = {
    "romosozumab-proposal": romosozumab.proposal,
    "romosozumab-cv-contraindication": romosozumab.cv_contraindication,
    "romosozumab-cv-caution": romosozumab.cv_caution,
    "romosozumab-hypocalcemia": romosozumab.hypocalcemia,
    "romosozumab-not-indicated": romosozumab.not_indicated,
    "romosozumab-course-complete": romosozumab.course_complete,
    "romosozumab-course-progress": romosozumab.course_progress,
    "denosumab-overdue": denosumab.overdue,
    "denosumab-switch": denosumab.switch,
    "denosumab-rebound-fracture": denosumab.rebound_fracture,
    "denosumab-next-dose": denosumab.next_dose,
    "denosumab-follow-on-monitoring": denosumab.follow_on_monitoring,
    "very-high-risk-other-agents": romosozumab.other_agents,
}
TOPICS = tuple(TOPIC_DISPLAY)
_URGENCY = {"critical": 0, "warning": 1, "info": 2}


def build_cards(
    hook: str,
    assessment: Assessment,
    record: PatientRecord,
    knowledge: Knowledge,
    *,
    patient_id: str,
    new_uuid: Callable[[], str] = random_uuid,
    user_id: str | None = None,
    encounter_id: str | None = None,
) -> list[dict[str, Any]]:
    """The cards for `hook`, most urgent first; none for a deceased patient."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    if assessment.deceased:
        return []
    ctx = CardContext(hook, assessment, record, knowledge, patient_id, new_uuid,
                      requester=requester_reference(user_id),
                      encounter=encounter_reference(encounter_id))
    cards = [card for topic in topics_for(ctx) if (card := BUILDERS[topic](ctx)) is not None]
    return sorted(cards, key=lambda card: _URGENCY[card["indicator"]])


def card_topic(card: dict[str, Any]) -> str:
    """The `urn:osteocds:card-topic` code of a card (`unknown` when absent)."""
    topic = card.get("source", {}).get("topic", {})
    return topic.get("code", "unknown") if topic.get("system") == TOPIC_SYSTEM else "unknown"


__all__ = ["BUILDERS", "TOPICS", "build_cards", "card_topic"]
