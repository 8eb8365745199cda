"""The clinical card producer: the one place the protocol layer hands a gathered record to the
evaluation and the card builders.

`produce_cards(context: HookContext) -> list[dict]` is registered by `create_app` as the default
card producer: it runs `service.evaluation.assess` on the context's record and date, then
`cards.build_cards` for the context's hook. `make_card_producer(new_uuid)` builds the same producer
with another uuid factory (deterministic uuids for golden files).

Issued cards (uuid and `source.topic.code`, no patient data) are recorded in the feedback store by
the protocol layer (`service.protocol.routes`) after every answer, so feedback can be joined to
its topic; this module does not record them a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cards import build_cards
from cards.context import random_uuid
from service.evaluation import assess

if TYPE_CHECKING:
    from service.hooks import HookContext


def make_card_producer(
    new_uuid: Callable[[], str] = random_uuid,
) -> Callable[[HookContext], list[dict[str, Any]]]:
    """A card producer using `new_uuid` for card and suggestion uuids."""

    def produce(context: HookContext) -> list[dict[str, Any]]:
        assessment = assess(
            context.record,
            context.as_of,
            context.knowledge,
            context.settings.cardiovascular_policy,
        )
        return build_cards(
            context.hook,
            assessment,
            context.record,
            context.knowledge,
            patient_id=context.patient_id,
            new_uuid=new_uuid,
            user_id=context.user_id,
            encounter_id=context.encounter_id,
        )

    return produce


_default_producer = make_card_producer()


def produce_cards(context: HookContext) -> list[dict[str, Any]]:
    """Cards for one hook call; `context` is the protocol layer's HookContext."""
    return _default_producer(context)
