"""The compiled build (setup.py, `make compile`): the manifest guard and what is actually loaded.

`make test` runs the whole suite on the compiled build; these tests check that the modules it
lists are the ones imported, and that a compiled module older than its source is refused."""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from service import compiled

ROOT = Path(__file__).resolve().parents[2]


def _module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def _listed_modules() -> list[str]:
    """COMPILED_MODULES of setup.py, read without running setup()."""
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    block = text.split("COMPILED_MODULES = [", 1)[1].split("]", 1)[0]
    return [line.strip().strip('",') for line in block.splitlines() if line.strip()]


def test_loaded_modules_match_the_build_on_disk():
    manifest = compiled.read_manifest()
    listed = compiled.compiled_sources(manifest)
    for source in _listed_modules():
        module = importlib.import_module(_module_name(source))
        is_extension = any(str(module.__file__).endswith(s) for s in EXTENSION_SUFFIXES)
        assert is_extension == (source in listed), source
    expected = f"compiled (mypyc, {len(listed)} modules)" if listed else "interpreted"
    assert compiled.build_description() == expected


def test_manifest_of_a_compiled_build_lists_every_module_with_its_source_hash():
    manifest = compiled.read_manifest()
    if manifest is None:  # an interpreted checkout: nothing compiled, nothing to compare
        assert compiled.build_description() == "interpreted"
        return
    assert sorted(manifest["sources"]) == sorted(_listed_modules())
    for source, digest in manifest["sources"].items():
        assert hashlib.sha256((ROOT / source).read_bytes()).hexdigest() == digest, source


def test_no_compiled_module_defines_a_struct():
    """mypyc drops a Struct's `frozen=True`: Structs must live in interpreted modules."""
    for source in _listed_modules():
        text = (ROOT / source).read_text(encoding="utf-8")
        assert "msgspec import Struct" not in text, source
        assert "(Struct" not in text, source


def _fake_build(tmp_path: Path, source_text: str) -> tuple[Path, Path]:
    package = tmp_path / "pkg"
    package.mkdir()
    source = package / "mod.py"
    source.write_text(source_text, encoding="utf-8")
    (package / f"mod{EXTENSION_SUFFIXES[0]}").write_bytes(b"not really a compiled module")
    manifest = tmp_path / "_compiled.json"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    manifest.write_text(json.dumps({"compiler": "mypyc", "sources": {"pkg/mod.py": digest}}))
    return manifest, source


def test_an_unchanged_source_passes_the_check(tmp_path):
    manifest, _ = _fake_build(tmp_path, "VALUE = 1\n")
    compiled.check_compiled_modules(manifest, tmp_path)


def test_an_edited_source_is_refused_with_the_fix(tmp_path):
    manifest, source = _fake_build(tmp_path, "VALUE = 1\n")
    source.write_text("VALUE = 2\n", encoding="utf-8")
    with pytest.raises(compiled.StaleCompiledModules) as refused:
        compiled.check_compiled_modules(manifest, tmp_path)
    assert "pkg/mod.py" in str(refused.value)
    assert "make compile" in str(refused.value)
    assert "make interpreted" in str(refused.value)


def test_a_source_without_its_compiled_module_is_not_checked(tmp_path):
    manifest, source = _fake_build(tmp_path, "VALUE = 1\n")
    (source.parent / f"mod{EXTENSION_SUFFIXES[0]}").unlink()  # `make interpreted` removed it
    source.write_text("VALUE = 2\n", encoding="utf-8")
    compiled.check_compiled_modules(manifest, tmp_path)
    assert compiled.stale_sources(compiled.read_manifest(manifest), tmp_path) == []


def test_importing_service_refuses_a_stale_compiled_module(tmp_path):
    """End to end: a copy of the package whose compiled parse module is older than its source;
    `import service` fails before any compiled module is loaded."""
    package = tmp_path / "service"
    (package / "record").mkdir(parents=True)
    for name in ("__init__.py", "compiled.py"):
        (package / name).write_bytes((ROOT / "service" / name).read_bytes())
    source = package / "record" / "parse.py"
    source.write_text("EDITED = True\n", encoding="utf-8")
    (package / "record" / f"parse{EXTENSION_SUFFIXES[0]}").write_bytes(b"compiled earlier")
    old_digest = hashlib.sha256(b"the source it was compiled from").hexdigest()
    (package / "_compiled.json").write_text(
        json.dumps({"compiler": "mypyc", "sources": {"service/record/parse.py": old_digest}}))
    done = subprocess.run([sys.executable, "-c", "import service"], cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "StaleCompiledModules" in done.stderr
    assert "service/record/parse.py" in done.stderr
    assert "make compile" in done.stderr
    source.write_text("the source it was compiled from", encoding="utf-8")
    again = subprocess.run([sys.executable, "-c", "import service; print('ok')"], cwd=tmp_path,
                           env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, timeout=60)
    assert again.stdout.strip() == "ok", again.stderr


def test_a_compiled_module_the_manifest_does_not_list_is_refused(tmp_path):
    """Left from an earlier build whose list was longer: it would run whatever it was built from."""
    package = tmp_path / "service" / "record"
    package.mkdir(parents=True)
    listed, leftover = package / "parse.py", package / "model.py"
    for source in (listed, leftover):
        source.write_text("VALUE = 1\n", encoding="utf-8")
        source.with_suffix(EXTENSION_SUFFIXES[0]).write_bytes(b"compiled earlier")
    manifest = tmp_path / "_compiled.json"
    digest = hashlib.sha256(listed.read_bytes()).hexdigest()
    manifest.write_text(json.dumps({"sources": {"service/record/parse.py": digest}}))
    with pytest.raises(compiled.StaleCompiledModules) as refused:
        compiled.check_compiled_modules(manifest, tmp_path)
    assert "service/record/model.py" in str(refused.value)
    assert "service/record/parse.py" not in str(refused.value)
    leftover.with_suffix(EXTENSION_SUFFIXES[0]).unlink()
    compiled.check_compiled_modules(manifest, tmp_path)


def test_compiled_modules_without_a_manifest_are_refused(tmp_path):
    package = tmp_path / "cards"
    package.mkdir()
    (package / "card.py").write_text("VALUE = 1\n", encoding="utf-8")
    (package / f"card{EXTENSION_SUFFIXES[0]}").write_bytes(b"compiled by hand")
    with pytest.raises(compiled.StaleCompiledModules, match=r"cards/card\.py"):
        compiled.check_compiled_modules(tmp_path / "_compiled.json", tmp_path)
