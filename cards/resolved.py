"""A citation as a card shows it (`cards.context.CardContext.resolve`).

A frozen `msgspec.Struct`, as the record model's types: about 14 are built a call, and a Struct
is built several times faster than a frozen dataclass, whose `__init__` stays interpreted in the
compiled build. Kept in this interpreted module: mypyc (setup.py) drops a Struct's class options
such as `frozen=True`, so no compiled module defines one.
"""

from __future__ import annotations

from msgspec import Struct


class ResolvedCitation(Struct, frozen=True, gc=False):
    id: str
    label: str
    url: str | None
    verification: str | None = None  # [V] / [V2] / [U] from the knowledge data
