"""What the protocol layer keeps per Flask app (`app.extensions["osteocds"]`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from service.config import Settings
from service.protocol.services import ServiceRegistry
from service.store import Store

if TYPE_CHECKING:
    from service.hooks import CardProducer

EXTENSION_KEY = "osteocds"


@dataclass(frozen=True)
class ProtocolState:
    """The app's settings, services, store, knowledge and card producers."""

    settings: Settings
    registry: ServiceRegistry
    store: Store
    knowledge: Any  # service.knowledge.Knowledge
    templates: Mapping[str, str]
    card_producers: Sequence[CardProducer]


def protocol_state(app: Flask | None = None) -> ProtocolState:
    """The protocol state of `app` (default: the current app)."""
    target = app if app is not None else current_app
    return target.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
