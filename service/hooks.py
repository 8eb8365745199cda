"""One hook call: gather the patient record, ask every card producer, answer `{"cards": [...]}`.

A card producer is any callable `(HookContext) -> Sequence[Mapping]` returning CDS Hooks 2.0 card
objects. `create_app` registers `service.clinical.produce_cards` by default; tests register their
own. This module knows nothing of HTTP: the protocol layer validates the request before, and turns
`service.errors` exceptions into responses after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from service.config import Settings
from service.errors import CdsError
from service.protocol import validation
from service.record.gather import gather_record
from service.record.model import PatientRecord
from service.response_guard import response_problems

if TYPE_CHECKING:
    from service.knowledge import Knowledge

logger = logging.getLogger(__name__)

RESPONSE_SCHEMA = "service-response"


@dataclass(frozen=True, slots=True)
class HookContext:
    """Everything a card producer may read about one hook call.

    `request` is the validated CDS Hooks request body (read-only by convention; it may hold a
    bearer token in `fhirAuthorization`, so never log it). `as_of` is "today" for the evaluation.
    """

    service_id: str
    hook: str
    request: Mapping[str, Any]
    record: PatientRecord
    settings: Settings
    knowledge: Knowledge
    as_of: date

    @property
    def patient_id(self) -> str:
        """`context.patientId` of the request."""
        return str(self.request["context"]["patientId"])

    @property
    def user_id(self) -> str | None:
        """`context.userId` of the request (`Practitioner/123`, ...)."""
        value = self.request["context"].get("userId")
        return value if isinstance(value, str) else None

    @property
    def encounter_id(self) -> str | None:
        """`context.encounterId` of the request, when the EHR sent one."""
        value = self.request["context"].get("encounterId")
        return value if isinstance(value, str) else None

    @property
    def hook_instance(self) -> str:
        """`hookInstance` of the request (safe to log: it identifies the call, not the patient)."""
        return str(self.request["hookInstance"])


CardProducer = Callable[[HookContext], Sequence[Mapping[str, Any]]]
"""Turns one hook call into zero or more CDS Hooks 2.0 cards."""


class InvalidCardError(CdsError):
    """A card producer emitted a card that breaks the response schema: a bug, answered as 500."""

    status = 500


def today(settings: Settings) -> date:
    """The evaluation date: the clock, or `OSTEOCDS_DEV_AS_OF` in the development profile."""
    if settings.is_development and settings.dev_as_of is not None:
        return settings.dev_as_of
    return date.today()


def run_hook(
    *,
    service_id: str,
    hook: str,
    body: Mapping[str, Any],
    settings: Settings,
    knowledge: Knowledge,
    templates: Mapping[str, str],
    card_producers: Sequence[CardProducer],
) -> dict[str, Any]:
    """Answer one validated hook request: `{"cards": [...]}`, checked against the response schema.

    The record comes from `service.record.gather.gather_record`; it raises `DataUnavailable` (412)
    when the data cannot be obtained, which propagates to the protocol layer.
    """
    record = gather_record(body, settings=settings, templates=templates, interest=knowledge)
    context = HookContext(
        service_id=service_id,
        hook=hook,
        request=body,
        record=record,
        settings=settings,
        knowledge=knowledge,
        as_of=today(settings),
    )
    cards: list[dict[str, Any]] = []
    for producer in card_producers:
        cards.extend(dict(card) for card in producer(context))
    response = {"cards": cards}
    check_response(response, service_id=service_id, hook_instance=context.hook_instance,
                   full_schema=settings.validate_responses)
    return response


def check_response(
    response: Mapping[str, Any], *, service_id: str, hook_instance: str, full_schema: bool = True
) -> None:
    """Refuse (500) a response that breaks the CDS Hooks 2.0 response schema or repeats a uuid.

    The fast guard (`service.response_guard`) always runs; the full JSON Schema check (5-15 ms)
    only with `full_schema` (`OSTEOCDS_VALIDATE_RESPONSES`, see docs/performance.md)."""
    problems = response_problems(response)
    if full_schema and not problems:
        problems = validation.schema_errors(RESPONSE_SCHEMA, response)
    problems.extend(duplicate_uuid_problems(response))
    if problems:
        # Field paths and rule names only: never card text, which may quote patient data.
        logger.error(
            "invalid response from %s (hookInstance %s): %s",
            service_id, hook_instance, "; ".join(problems[:10]),
        )
        raise InvalidCardError("A card producer emitted an invalid card.")


def duplicate_uuid_problems(response: Mapping[str, Any]) -> list[str]:
    """Card and suggestion uuids must be unique within one response."""
    seen: set[str] = set()
    problems: list[str] = []
    for index, card in enumerate(response.get("cards") or ()):
        uuids = [card.get("uuid")] + [s.get("uuid") for s in card.get("suggestions") or ()]
        for value in uuids:
            if isinstance(value, str):
                if value in seen:
                    problems.append(f"cards[{index}]: uuid {value} is used twice")
                seen.add(value)
    return problems
