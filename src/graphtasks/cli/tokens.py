"""`graphtasks token`: a bearer token signed with the database's key, application (roles) or delegated
(scopes), and the durations its --expires takes ('3600', '10m', '-5m' for an expired one). With --url,
the running server there signs it (its admin API), so no access to its database is needed.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token, parse_permissions
from graphtasks.cli.common import cloud_option, database_options, guid, opened_backend, permissions
from graphtasks.cli.remote import admin_client, url_options
from graphtasks.clouds import cloud_named
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT

_DURATION = re.compile(r"(-?\d+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(commands: Any) -> None:
    token = commands.add_parser("token", help="print a bearer token for this server")
    database_options(token)
    cloud_option(token)
    token.add_argument("--tenant", type=guid, default=DEFAULT_TENANT, help="tenant id (tid), a GUID")
    token.add_argument(
        "--roles", nargs="+", type=permissions, help="application permissions (default: all four)"
    )
    token.add_argument(
        "--scopes", nargs="+", type=permissions, help="delegated permissions: makes a user token (scp)"
    )
    token.add_argument("--user", help="the signed-in user of a delegated token (upn)")
    token.add_argument(
        "--expires", default="3600", help="lifetime: seconds or 10m / 2h / 1d; negative = expired"
    )
    url_options(token)


def run(args: argparse.Namespace) -> int:
    if args.roles and args.scopes:
        raise ValueError("give --roles (application token) or --scopes (delegated token), not both")
    delegated = args.scopes is not None or args.user is not None
    permissions = parse_permissions(args.scopes or args.roles or ALL_PERMISSIONS)
    request = TokenRequest(
        tenant_id=args.tenant,
        roles=() if delegated else permissions,
        scopes=permissions if delegated else None,
        user=args.user,
        expires_in=parse_duration(args.expires),
    )
    if args.url:
        print(_token_from_server(args, request))
        return 0
    with opened_backend(args) as backend:
        audience = cloud_named(args.cloud).graph_url
        print(
            issue_token(backend.keys, request, issuer_base=args.issuer or DEFAULT_ISSUER, audience=audience)
        )
    return 0


def _token_from_server(args: argparse.Namespace, request: TokenRequest) -> str:
    """A token the running server at --url signs, as it signs its own (its cloud, its issuer)."""
    body: dict[str, Any] = {"tenant": request.tenant_id, "expiresIn": request.expires_in}
    if request.scopes is not None:
        body["scopes"], body["user"] = list(request.scopes), request.user
    else:
        body["roles"] = list(request.roles)
    with admin_client(args) as admin:
        return str(admin.call("POST", "/tokens", json=body)["access_token"])


def attach_negative_durations(argv: list[str]) -> list[str]:
    """argparse reads '--expires -10m' as two options; '--expires=-10m' is what is meant."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--expires" and arg.startswith("-"):
            joined[-1] = f"--expires={arg}"
        else:
            joined.append(arg)
    return joined


def parse_duration(text: str) -> int:
    """'3600' -> 3600, '10m' -> 600, '-5m' -> -300."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use seconds, or a number with s, m, h or d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
