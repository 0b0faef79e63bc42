"""The `graphtasks` command: a Microsoft Graph beta server for Intune's deviceAppManagementTasks, and the
commands that look after its database (apps, tenants, tokens, seed data, fault plans) and a running
server's state (reset, export, import, the request journal).

Flags fall back to GRAPHTASKS_* environment variables, then to the defaults in config.py. Every failure
ends as one line on stderr and a non-zero exit (cli/failures.py), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from graphtasks import __version__
from graphtasks.cli import apps, faults, seed, serve, state, tenants, tokens
from graphtasks.cli.common import Parser
from graphtasks.cli.failures import failure_line
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
    "reset": (state.add_reset_parser, state.run_reset),
    "export": (state.add_export_parser, state.run_export),
    "import": (state.add_import_parser, state.run_import),
    "requests": (state.add_requests_parser, state.run_requests),
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the one place every failure becomes its line
        print(failure_line(error), file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1


def _run(argv: list[str]) -> int:
    parser = _parser()  # reads the GRAPHTASKS_* defaults, which may be wrong
    args = parser.parse_args(attach_negative_durations(argv))
    if args.command not in _COMMANDS:
        parser.print_help()
        return 2
    _, run = _COMMANDS[args.command]
    return run(args)


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="graphtasks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"graphtasks {__version__}")
    commands = parser.add_subparsers(dest="command")
    for add_parser, _ in _COMMANDS.values():
        add_parser(commands)
    return parser
