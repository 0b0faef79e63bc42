"""The `graphtasks` command: serve, token, --version. Flags fall back to GRAPHTASKS_* environment
variables, then to the defaults in config.py; everything ends up in one Settings value.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from graphtasks import __version__
from graphtasks.cli import apps, faults, seed, serve, tenants, tokens
from graphtasks.cli.tokens import attach_negative_durations, parse_duration

__all__ = ["main", "parse_duration"]

# Each sub-command's module adds its parser and runs it; this order is the order --help lists them in.
_COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "serve": (serve.add_parser, serve.run),
    "seed": (seed.add_parser, seed.run),
    "apps": (apps.add_parser, apps.run),
    "tenants": (tenants.add_parser, tenants.run),
    "token": (tokens.add_parser, tokens.run),
    "faults": (faults.add_parser, faults.run),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(attach_negative_durations(sys.argv[1:] if argv is None else list(argv)))
    if args.command not in _COMMANDS:
        parser.print_help()
        return 2
    _, run = _COMMANDS[args.command]
    try:
        return run(args)
    except ValueError as error:
        print(f"graphtasks: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphtasks", description=__doc__)
    parser.add_argument("--version", action="version", version=f"graphtasks {__version__}")
    commands = parser.add_subparsers(dest="command")
    for add_parser, _ in _COMMANDS.values():
        add_parser(commands)
    return parser
