"""`graphtasks tenants`: the tenant registry (add, remove, list) and each tenant's Intune licence."""

from __future__ import annotations

import argparse
from typing import Any

from graphtasks.cli.common import CliError, database_options, guid, opened_backend, print_result


def add_parser(commands: Any) -> None:
    tenants = commands.add_parser("tenants", help="the tenant registry and Intune licences")
    actions = tenants.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a tenant, or change its name or licence")
    remove = actions.add_parser("remove", help="remove a tenant from the registry")
    listing = actions.add_parser("list", help="list the registered tenants")
    for parser in (add, remove, listing):
        database_options(parser)
        parser.add_argument("--json", action="store_true", help="print JSON")
    for parser in (add, remove):
        parser.add_argument("--tenant", type=guid, required=True, help="tenant id (a GUID)")
    add.add_argument("--name", default="", help="display name")
    add.add_argument(
        "--intune-license",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether the tenant may use Intune (default: yes)",
    )


def run(args: argparse.Namespace) -> int:
    from graphtasks.storage.base import Tenant

    with opened_backend(args) as backend:
        if args.action == "list":
            print_result(args, [_tenant_json(tenant) for tenant in backend.tenants.list()])
            return 0
        tenant_id = args.tenant
        if args.action == "remove":
            if not backend.tenants.remove(tenant_id):
                raise CliError(
                    f"no tenant {tenant_id} in the registry", "`graphtasks tenants list` shows them"
                )
            return 0
        tenant = Tenant(tenant_id, args.name or tenant_id, args.intune_license)
        backend.tenants.put(tenant)
        print_result(args, _tenant_json(tenant))
        return 0


def _tenant_json(tenant: Any) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "displayName": tenant.display_name,
        "intuneLicense": tenant.intune_license,
    }
