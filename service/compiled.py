"""Which build is running: pure Python, or the modules setup.py compiles with mypyc.

A compiled build (`make compile`, `OSTEOCDS_COMPILE=1`) writes `service/_compiled.json`: every
compiled module's source path and SHA-256. A compiled module is found before its `.py` file, so
after an edit it would go on running the old code; `check_compiled_modules()`, run when `service`
is imported, refuses that (`StaleCompiledModules`, an ImportError naming the files and the fix),
and so a compiled module the manifest does not list (left from an earlier build).
"""

from __future__ import annotations

import hashlib
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding service/ and cards/
MANIFEST = Path(__file__).with_name("_compiled.json")
PACKAGES = ("service", "cards")


class StaleCompiledModules(ImportError):
    """Compiled modules that do not match their sources (changed since, or never listed)."""


def read_manifest(path: Path = MANIFEST) -> dict[str, Any] | None:
    """The manifest of the last compiled build, or None (pure Python)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def compiled_extension(source: Path) -> Path | None:
    """The compiled module beside `source` (`parse.py` -> `parse.cpython-311-...so`), if any."""
    for suffix in EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def compiled_sources(manifest: dict[str, Any] | None, root: Path = PACKAGE_ROOT) -> list[str]:
    """The manifest's sources that have a compiled module beside them (relative paths)."""
    if manifest is None:
        return []
    return [name for name in manifest["sources"] if compiled_extension(root / name) is not None]


def unlisted_sources(manifest: dict[str, Any] | None, root: Path = PACKAGE_ROOT) -> list[str]:
    """Sources in `PACKAGES` with a compiled module beside them that the manifest does not list."""
    listed = set(manifest["sources"]) if manifest else set()
    found = set()
    for package in PACKAGES:
        for extension in (root / package).rglob("*.so"):
            suffix = next((s for s in EXTENSION_SUFFIXES if extension.name.endswith(s)), None)
            if suffix is None:
                continue
            source = extension.with_name(extension.name.removesuffix(suffix) + ".py")
            name = source.relative_to(root).as_posix()
            if source.exists() and name not in listed:
                found.add(name)
    return sorted(found)


def stale_sources(manifest: dict[str, Any] | None, root: Path = PACKAGE_ROOT) -> list[str]:
    """Compiled modules that would not run their source as it is now: changed since they were
    compiled, or not listed by the manifest at all."""
    stale = unlisted_sources(manifest, root)
    for name in compiled_sources(manifest, root):
        source = root / name
        digest = hashlib.sha256(source.read_bytes()).hexdigest() if source.exists() else None
        if digest != manifest["sources"][name]:  # type: ignore[index]
            stale.append(name)
    return stale


def check_compiled_modules(manifest_path: Path = MANIFEST, root: Path = PACKAGE_ROOT) -> None:
    """Raise `StaleCompiledModules` when a compiled module would run outdated code."""
    stale = stale_sources(read_manifest(manifest_path), root)
    if stale:
        raise StaleCompiledModules(
            f"{len(stale)} compiled module(s) do not match their sources "
            f"({', '.join(stale[:5])}{', ...' if len(stale) > 5 else ''}): run `make compile` to "
            "rebuild them, or `make interpreted` to remove the compiled modules."
        )


def build_description() -> str:
    """`compiled (mypyc, N modules)` or `interpreted`, from what is actually on disk."""
    count = len(compiled_sources(read_manifest()))
    return f"compiled (mypyc, {count} modules)" if count else "interpreted"
