"""What the sub-commands share: GRAPHTASKS_* environment defaults, the --database/--issuer and --cloud
options, the backend a command opens, and how results are printed (plain lines or --json).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from graphtasks.clouds import CLOUDS
from graphtasks.config import DEFAULT_DATABASE, DEFAULT_ISSUER, Settings

if TYPE_CHECKING:
    from graphtasks.app import Backend


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GRAPHTASKS_{name}", default)


def env_int(name: str, default: int) -> int:
    return int(env(name) or default)


def database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        default=env("DATABASE", DEFAULT_DATABASE),
        help="sqlite:///path or postgresql://user@host/db",
    )
    parser.add_argument("--issuer", default=env("ISSUER", DEFAULT_ISSUER), help="token issuer base URL")


def cloud_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cloud",
        choices=list(CLOUDS),
        default=env("CLOUD", "global"),
        help="the Microsoft cloud to stand in for: its Graph host is the token audience and the "
        "host @odata.context names; its Entra hosts make up --trust-entra's issuers",
    )


@contextmanager
def opened_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The database of --database, migrated, with its keys and stores; closed when the command ends."""
    from graphtasks.app import open_backend

    backend = open_backend(Settings(database_url=args.database, issuer=args.issuer))
    try:
        yield backend
    finally:
        backend.database.dispose()


def print_result(args: argparse.Namespace, value: Any) -> None:
    """JSON under --json; otherwise one `name  value` line per field (the secret is shown once)."""
    if args.json:
        print(json.dumps(value, indent=2))
        return
    for item in value if isinstance(value, list) else [value]:
        for name, field in item.items():
            print(f"{name:<14} {' '.join(field) if isinstance(field, list) else field}")
        print()
