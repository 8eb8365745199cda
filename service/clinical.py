"""The clinical card producer: the one place the protocol layer hands a gathered record to the
evaluation and the card builders.

`produce_cards(context: HookContext) -> list[dict]` is registered by `create_app` as the default
card producer. It answers no cards until the evaluation (`service.evaluation.assess`) and the card
builders (`cards.build_cards`) are wired in here; the protocol layer does not change when they are.
"""

from __future__ import annotations

from typing import Any


def produce_cards(context: Any) -> list[dict[str, Any]]:
    """Cards for one hook call; `context` is the protocol layer's HookContext."""
    return []
