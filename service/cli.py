"""The `osteocds` command. Each sub-command lives in `service/commands/<name>.py` and exposes
`register(subparsers) -> None`, which adds its parser and sets `func` to a callable taking the
parsed arguments and returning an exit code. Modules named `_*` are shared helpers, not commands.

A settings error a command leaves unhandled (`OSTEOCDS_*` unparsable or invalid) is reported as
the commands report theirs: one line naming the variable, exit status 2, no traceback."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from service import commands
from service.commands._settings import CONFIGURATION_ERRORS, configuration_error, is_settings_error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osteocds", description="osteocds CDS Hooks 2.0 service")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CONFIGURATION_ERRORS as error:
        if not is_settings_error(error):
            raise
        return configuration_error(error)


if __name__ == "__main__":
    sys.exit(main())
