"""`graphtasks apps`: the token service's app registrations (add, remove, rotate-secret, list, and the
certificates that may sign an app's client assertions). A new secret is printed once, never stored.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import parse_permissions
from graphtasks.cli.common import (
    database_options,
    guid,
    opened_backend,
    permissions,
    print_result,
    readable_file,
)
from graphtasks.config import DEFAULT_APP_NAME, DEFAULT_TENANT


def add_parser(commands: Any) -> None:
    apps = commands.add_parser("apps", help="app registrations of the token service")
    actions = apps.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an app; prints its client id and secret, once")
    remove = actions.add_parser("remove", help="delete an app registration")
    rotate = actions.add_parser("rotate-secret", help="replace an app's secret; prints the new one, once")
    listing = actions.add_parser("list", help="list app registrations (never their secrets)")
    certify = actions.add_parser(
        "add-certificate", help="register a certificate whose key may sign the app's client assertions"
    )
    uncertify = actions.add_parser("remove-certificate", help="remove a certificate from an app")
    changes = (remove, rotate, certify, uncertify)
    for parser in (add, listing, *changes):
        database_options(parser)
        parser.add_argument("--json", action="store_true", help="print JSON")
    for parser in (add, *changes):
        parser.add_argument("--tenant", type=guid, default=DEFAULT_TENANT, help="tenant id (tid)")
    listing.add_argument("--tenant", type=guid, help="only this tenant's apps")
    for parser in changes:
        parser.add_argument("--client-id", type=guid, required=True, help="the app's client id")
    add.add_argument(
        "--permission",
        nargs="+",
        type=permissions,
        default=list(ALL_PERMISSIONS),
        help="application permissions",
    )
    add.add_argument("--name", default=DEFAULT_APP_NAME, help="display name")
    add.add_argument(
        "--certificate", type=readable_file, help="also register this certificate (PEM, public part only)"
    )
    certify.add_argument(
        "--certificate",
        type=readable_file,
        required=True,
        help="PEM file of the certificate, public part only",
    )
    uncertify.add_argument(
        "--thumbprint", required=True, help="the certificate's SHA-1 or SHA-256 thumbprint"
    )


def run(args: argparse.Namespace) -> int:
    from graphtasks.auth.apps import app_json, hint, new_secret, parse_thumbprint, read_certificate
    from graphtasks.storage.base import AppRegistration

    with opened_backend(args) as backend:
        store = backend.apps
        if args.action == "list":
            print_result(args, [app_json(app) for app in store.list(args.tenant and args.tenant.lower())])
            return 0
        tenant = args.tenant.lower()
        if args.action == "remove":
            if not store.remove(tenant, args.client_id):
                raise ValueError(f"no app {args.client_id} in tenant {tenant}")
            return 0
        if args.action == "add-certificate":
            certificate = read_certificate(args.certificate)
            if not store.add_certificate(tenant, args.client_id, certificate):
                raise ValueError(f"no app {args.client_id} in tenant {tenant}")
            print_result(args, {"clientId": args.client_id, "thumbprint": certificate.sha1_thumbprint})
            return 0
        if args.action == "remove-certificate":
            thumbprint = parse_thumbprint(args.thumbprint)
            if not store.remove_certificate(tenant, args.client_id, thumbprint):
                raise ValueError(f"no certificate {thumbprint} on app {args.client_id} in tenant {tenant}")
            return 0
        secret, stored = new_secret()
        if args.action == "add":
            permissions = parse_permissions(args.permission)
            certificates = (read_certificate(args.certificate),) if args.certificate else ()
            app = AppRegistration(
                tenant, str(uuid.uuid4()), args.name, permissions, hint(secret), certificates
            )
            store.add(app, stored)
        elif not store.replace_secret(tenant, args.client_id, stored, hint(secret)):
            raise ValueError(f"no app {args.client_id} in tenant {tenant}")
        client_id = app.client_id if args.action == "add" else args.client_id
        print_result(args, {"tenantId": tenant, "clientId": client_id, "clientSecret": secret})
        return 0
