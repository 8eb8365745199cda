"""Build hook: with OSTEOCDS_COMPILE=1, the record, evaluation, knowledge-matching and card modules
are compiled to C extensions by mypyc (same sources, same behaviour, 1.4-1.7x faster there; see
docs/performance.md "Round 5: the compiled build"). Without it the package is pure Python.

    OSTEOCDS_COMPILE=1 python setup.py --quiet build_ext --inplace  # what `make compile` runs
    OSTEOCDS_COMPILE=1 pip wheel --no-build-isolation .             # docker/install.sh (image)

Every build writes `service/_compiled.json`: the compiled modules and a SHA-256 of each source,
so an import of `service` refuses compiled modules that no longer match their source
(`service.compiled.check_compiled_modules`). Project metadata lives in pyproject.toml.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MANIFEST = Path("service") / "_compiled.json"

# Pure logic on the request path: no Flask, no I/O. Never a module that defines a msgspec.Struct:
# mypyc drops class options such as `frozen=True` (the Structs live in the model, facts and
# matches modules, interpreted).
COMPILED_MODULES = [
    "service/record/parse.py",
    "service/record/shape.py",
    "service/record/gather.py",
    "service/record/queries.py",
    "service/evaluation/assess.py",
    "service/evaluation/calcium.py",
    "service/evaluation/cardiovascular.py",
    "service/evaluation/dates.py",
    "service/evaluation/denosumab.py",
    "service/evaluation/fractures.py",
    "service/evaluation/labs.py",
    "service/evaluation/orders.py",
    "service/evaluation/risk.py",
    "service/evaluation/romosozumab.py",
    "service/evaluation/safety.py",
    "service/evaluation/therapy.py",
    "service/knowledge/knowledge.py",
    "service/response_guard.py",
    "service/nesting.py",
    "cards/card.py",
    "cards/context.py",
    "cards/denosumab.py",
    "cards/format.py",
    "cards/orders.py",
    "cards/romosozumab.py",
    "cards/selection.py",
    "cards/wording.py",
]


def manifest_text(modules: list[str]) -> str:
    """The manifest: each compiled module's source path and its SHA-256."""
    sources = {path: hashlib.sha256((ROOT / path).read_bytes()).hexdigest() for path in modules}
    return json.dumps({"compiler": "mypyc", "sources": sources}, indent=2) + "\n"


class BuildWithManifest(build_ext):
    """build_ext that also writes the manifest beside the compiled modules."""

    def run(self) -> None:
        super().run()
        target = ROOT / MANIFEST if self.inplace else Path(self.build_lib) / MANIFEST
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(manifest_text(COMPILED_MODULES), encoding="utf-8")


def compiled_extensions() -> list:
    from mypyc.build import mypycify  # only needed for a compiled build

    return mypycify(
        ["--ignore-missing-imports", *COMPILED_MODULES],
        opt_level="3",
        group_name="service._native",  # the shared runtime lands inside the package
    )


if os.environ.get("OSTEOCDS_COMPILE") == "1":
    setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": BuildWithManifest})
else:
    setup()
