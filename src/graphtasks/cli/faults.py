"""`graphtasks faults`: show, set or clear the fault injection plan of a running server (through its
admin endpoint, web/admin.py), and print the admin key that endpoint asks for.

The key comes from --admin-key (or GRAPHTASKS_ADMIN_KEY), else it is derived from the database the
server runs on (--database), as the server derives it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from graphtasks.cli.common import CliError, database_options, opened_backend, option, readable_file

_PATH = "/graphtasks/admin/faults"


def add_parser(commands: Any) -> None:
    faults = commands.add_parser("faults", help="fault and latency injection of a running server")
    actions = faults.add_subparsers(dest="action", required=True)
    key = actions.add_parser("key", help="print the admin key (derived from the database)")
    show = actions.add_parser("show", help="print the plan in force")
    set_plan = actions.add_parser("set", help="put the plan of a JSON file in force")
    clear = actions.add_parser("clear", help="remove every rule")
    database_options(key)
    set_plan.add_argument(
        "file", type=readable_file, help='a JSON plan: {"seed": 1, "rules": [...]} (docs/resilience.md)'
    )
    for parser in (show, set_plan, clear):
        database_options(parser)
        option(parser, "--url", default="http://127.0.0.1:8000", help="the server's base URL")
        option(parser, "--admin-key", help="the admin key (default: derived from --database)")


def run(args: argparse.Namespace) -> int:
    key = args.admin_key if args.action != "key" and args.admin_key else _derived_key(args)
    if args.action == "key":
        print(key)
        return 0
    body = Path(args.file).read_bytes() if args.action == "set" else None
    method = {"show": "GET", "set": "PUT", "clear": "DELETE"}[args.action]
    status, answer = _call(f"{args.url.rstrip('/')}{_PATH}", method, key, body)
    if answer:
        print(json.dumps(answer, indent=2))
    if status >= 400:
        print(f"graphtasks: the server answered {status}", file=sys.stderr)
        return 1
    return 0


def _derived_key(args: argparse.Namespace) -> str:
    from graphtasks.auth.admin import admin_key

    with opened_backend(args) as backend:
        return admin_key(backend.keys)


def _call(url: str, method: str, key: str, body: bytes | None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - the user's own URL
    request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except urllib.error.URLError as error:
        raise CliError(f"cannot reach {url}: {error.reason}", _hint(url, error)) from None
    except (http.client.HTTPException, ConnectionError) as error:
        # Plain HTTP sent to a TLS port gets no HTTP answer back.
        raise CliError(
            f"no HTTP answer from {url}: {error or type(error).__name__}", _hint(url, error)
        ) from None


def _hint(url: str, error: Exception) -> str | None:
    if url.startswith("http://") and isinstance(error, http.client.HTTPException | ConnectionError):
        return "is the server running with --tls? then use --url https://..."
    if url.startswith("https://") and "SSL" in str(error):
        return "trust the server's CA with SSL_CERT_FILE, or is it plain http?"
    return "is `graphtasks serve` running there? set --url or GRAPHTASKS_URL"


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip() else None
