"""Readers for the deployment files, shared by the tests in tests/deploy: a small Dockerfile parser
and the `.dockerignore` matching rules of the Docker builder (last matching pattern wins, `**` spans
directories, a path is excluded when it or one of its parents is)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instruction:
    keyword: str
    arguments: str
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage:
    base_image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _split_flags(arguments: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = arguments
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    return flags, rest


def parse_dockerfile(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile with their instructions, comments dropped."""
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        flags, arguments = _split_flags(arguments.strip())
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base_image=words[0], name=name))
            continue
        if not stages:
            continue
        stages[-1].instructions.append(Instruction(keyword, arguments, flags))
    return stages


def exec_form(arguments: str) -> list[str]:
    """The words of a JSON (exec form) or shell-form instruction argument."""
    import json

    arguments = arguments.strip()
    if arguments.startswith("["):
        return list(json.loads(arguments))
    return shlex.split(arguments)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        rules.append((negate, _pattern_regex(pattern.strip().strip("/"))))
    return rules


def is_in_build_context(relative_path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the Docker builder sends `relative_path` (posix, relative to the context root)."""
    parts = relative_path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return not excluded


def build_context_files(root: Path = ROOT) -> list[str]:
    """Every file under `root` the Docker builder would send, by the project's .dockerignore."""
    rules = dockerignore_rules(root / ".dockerignore")
    files = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".git/", ".venv/")) or "/node_modules/" in relative:
            continue
        if is_in_build_context(relative, rules):
            files.append(relative)
    return sorted(files)
