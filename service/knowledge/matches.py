"""What a terminology lookup of `Knowledge` answers: the matched drug, value set, fracture site
or observation kind, with the coding that matched.

Frozen `msgspec.Struct`s, kept in this interpreted module: mypyc (the compiled build, setup.py)
drops a Struct's class options such as `frozen=True`, so no compiled module defines one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from service.record.model import Coding

if TYPE_CHECKING:
    from service.knowledge.knowledge import Drug, FractureSite


class DrugMatch(Struct, frozen=True):
    drug: Drug
    counts: bool  # False: a product of the ingredient that never counts (oncology, Yorvipath)
    basis: str  # "product" | "ingredient" | "name"
    coding: Coding | None = None


class CodeMatch(Struct, frozen=True):
    value_set: str
    coding: Coding
    attributes: Mapping[str, Any] = {}  # msgspec copies an empty default per instance


class FractureMatch(Struct, frozen=True):
    site: FractureSite
    coding: Coding
    follow_up: bool  # ICD-10-CM 7th character of a subsequent encounter or sequela
    osteoporotic_coded: bool  # coded as osteoporotic: counts regardless of bone mass


class ObservationMatch(Struct, frozen=True):
    kind: str
    site: str | None = None
    coding: Coding | None = None
