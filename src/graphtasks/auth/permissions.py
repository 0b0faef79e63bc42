"""Which permissions each operation needs (docs/graph-behaviour.md, "Permissions").

Reads accept any of the four DeviceManagement permissions; writes need a ReadWrite one. Personal
Microsoft accounts are refused, as the docs say "Not supported".
"""

from __future__ import annotations

from enum import Enum

from graphtasks.auth.tokens import Principal
from graphtasks.errors import Forbidden

# The consumer (personal Microsoft account) tenant.
PERSONAL_ACCOUNT_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"

APPS_READ = "DeviceManagementApps.Read.All"
APPS_READ_WRITE = "DeviceManagementApps.ReadWrite.All"
CONFIGURATION_READ = "DeviceManagementConfiguration.Read.All"
CONFIGURATION_READ_WRITE = "DeviceManagementConfiguration.ReadWrite.All"
ALL_PERMISSIONS = (APPS_READ, APPS_READ_WRITE, CONFIGURATION_READ, CONFIGURATION_READ_WRITE)


class Access(Enum):
    # Least to most privileged, the order the docs list them and the 403 message repeats.
    READ = (APPS_READ, CONFIGURATION_READ, APPS_READ_WRITE, CONFIGURATION_READ_WRITE)
    WRITE = (CONFIGURATION_READ_WRITE, APPS_READ_WRITE)


def authorize(principal: Principal, access: Access) -> None:
    if principal.tenant_id == PERSONAL_ACCOUNT_TENANT:
        raise Forbidden("Personal Microsoft accounts are not supported for this API.")
    if principal.permissions.isdisjoint(access.value):
        caller = "User" if principal.delegated else "Application"
        raise Forbidden(
            f"{caller} is not authorized to perform this operation. {caller} must have one of the "
            f"following scopes: {', '.join(access.value)}"
        )
