"""`graphtasks reset`, `export`, `import` and `requests`: a tenant's tasks and journal, on a running server
(--url, through its admin API) or on its database directly (--database, while the server runs or not).
The journal lives in the server's memory, so `requests` always asks the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from graphtasks.cli.common import CliError, database_options, guid, opened_backend, readable_file
from graphtasks.cli.remote import admin_client, url_options
from graphtasks.config import DEFAULT_TENANT
from graphtasks.model.fixtures import named_tenant, read_tasks
from graphtasks.model.records import StoredTask
from graphtasks.web.exports import EXPORT_CHUNK, After, export_stream

DEFAULT_URL = "http://127.0.0.1:8000"


def add_reset_parser(commands: Any) -> None:
    reset = commands.add_parser("reset", help="delete a tenant's tasks (and its request journal)")
    _target_options(reset, tenant_default=None)
    reset.add_argument("--all", action="store_true", help="every tenant's tasks")


def add_export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="write a tenant's tasks as an export document")
    _target_options(export)
    export.add_argument("--output", "-o", help="the file to write (default: standard output)")


def add_import_parser(commands: Any) -> None:
    load = commands.add_parser("import", help="add the tasks of a file to a tenant")
    load.add_argument("file", type=readable_file, help="an export, a collection answer or a list of tasks")
    _target_options(load, tenant_default=None)


def add_requests_parser(commands: Any) -> None:
    requests = commands.add_parser("requests", help="the request journal of a tenant, oldest first")
    requests.add_argument("--tenant", type=guid, default=DEFAULT_TENANT, help="tenant id, a GUID")
    requests.add_argument("--json", action="store_true", help="the entries as JSON")
    url_options(requests)


def _target_options(parser: argparse.ArgumentParser, *, tenant_default: str | None = DEFAULT_TENANT) -> None:
    parser.add_argument("--tenant", type=guid, default=tenant_default, help="tenant id, a GUID")
    database_options(parser)
    url_options(parser)


def run_reset(args: argparse.Namespace) -> int:
    if args.all and args.tenant is not None:
        raise CliError("give --tenant or --all, not both")
    tenant = args.tenant or DEFAULT_TENANT
    if args.url:
        with admin_client(args) as admin:
            path = "/tasks" if args.all else f"/tenants/{tenant}/tasks"
            deleted = admin.call("DELETE", path)["deleted"]
    else:
        with opened_backend(args) as backend:
            deleted = backend.store.remove_tasks(None if args.all else tenant)
    print(f"{deleted} tasks deleted")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _output(args.output) as out:
        if args.url:
            with admin_client(args) as admin, admin.stream("GET", f"/tenants/{args.tenant}/export") as answer:
                for piece in answer.iter_bytes():
                    out.write(piece)
        else:
            with opened_backend(args) as backend:
                store = backend.store

                def read(after: After) -> list[StoredTask]:
                    return store.tasks_of(args.tenant, after=after, limit=EXPORT_CHUNK)

                for piece in export_stream(args.tenant, read):
                    out.write(piece)
        out.write(b"\n")
    return 0


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    with Path(path).open("wb") as out:
        yield out


def run_import(args: argparse.Namespace) -> int:
    text = Path(args.file).read_bytes()
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise CliError(f"{args.file} is not JSON: {error}") from None
    tenant = args.tenant or named_tenant(document) or DEFAULT_TENANT
    if args.url:
        with admin_client(args) as admin:
            path = f"/tenants/{tenant}/import"
            headers = {"Content-Type": "application/json"}
            imported = admin.call("POST", path, content=text, headers=headers)["imported"]
    else:
        stored = read_tasks(document)
        with opened_backend(args) as backend:
            imported = backend.store.add_tasks(tenant, stored)
    print(f"{imported} tasks imported into tenant {tenant}")
    return 0


def run_requests(args: argparse.Namespace) -> int:
    args.url = args.url or DEFAULT_URL
    with admin_client(args) as admin:
        entries = admin.call("GET", f"/tenants/{args.tenant}/requests")["value"]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        query = f"?{entry['query']}" if entry["query"] else ""
        where = f"{entry['method']} {entry['path']}{query}"
        print(
            f"{entry['time']} {where} {entry['status']} {entry['durationMs']}ms app={entry['appId'] or '-'}"
        )
    return 0
