"""The admin endpoints for the tenant registry and the token service's app registrations
(docs/testing.md, "The admin API"):

    GET    /graphtasks/admin/tenants                                   every registered tenant
    PATCH  /graphtasks/admin/tenants/{tenant}                          change its name or its licence
    GET    /graphtasks/admin/tenants/{tenant}/apps                     the tenant's app registrations
    POST   /graphtasks/admin/tenants/{tenant}/apps                     register an app: its secret, once
    POST   /graphtasks/admin/tenants/{tenant}/apps/{clientId}/secret   a new secret in place of the old
    DELETE /graphtasks/admin/tenants/{tenant}/apps/{clientId}          remove an app

What `graphtasks tenants` and `graphtasks apps` do on a database, over HTTP on a running server, with
the same JSON. A client secret appears in the answer that made it and nowhere else: only its salted hash
is stored (auth/apps.py). Who may call them is auth/admin.py's AdminAccess; errors are Graph-shaped.
Registering a tenant is web/admin_state.py's `POST /tenants`.
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp

from graphtasks.auth.admin import AdminAccess
from graphtasks.auth.apps import app_json, hint, new_secret
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tenants import TenantLicences
from graphtasks.auth.tokens import parse_permissions
from graphtasks.config import DEFAULT_APP_NAME
from graphtasks.errors import BadRequest, NotFound
from graphtasks.storage.base import AppRegistration, StoredSecret, Tenant
from graphtasks.web.admin_state import TENANT_LIMIT, Handler, admin_routes, path_guid, path_tenant
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import read_json
from graphtasks.web.responses import GraphResponse

_TENANT_MEMBERS = frozenset({"displayName", "licensed"})
_APP_MEMBERS = frozenset({"displayName", "permissions"})


class AppRegistry(Protocol):
    """The app registrations these endpoints change (storage/registry.py, SqlAppStore)."""

    def add(self, app: AppRegistration, secret: StoredSecret) -> None: ...

    def list(self, tenant_id: str | None = None) -> builtins.list[AppRegistration]: ...

    def remove(self, tenant_id: str, client_id: str) -> bool: ...

    def replace_secret(
        self, tenant_id: str, client_id: str, secret: StoredSecret, secret_hint: str
    ) -> bool: ...


class TenantRegistry(Protocol):
    """The tenant registry (storage/registry.py, SqlTenantStore)."""

    def put(self, tenant: Tenant) -> None: ...

    def find(self, tenant_id: str) -> Tenant | None: ...

    def list(self) -> builtins.list[Tenant]: ...


@dataclass(frozen=True)
class Registry:
    """What the registry endpoints reach."""

    access: AdminAccess
    apps: AppRegistry
    tenants: TenantRegistry
    licences: TenantLicences
    calls: BlockingCalls


class Unregistered(NotFound):
    """A tenant or an app the registry does not hold. The admin API is graphtasks' own, not Intune's,
    so the message goes out as it is, without Intune's JSON-in-string envelope."""

    intune_envelope = False


def registry_routes(registry: Registry) -> list[Route]:
    routes: dict[tuple[str, str], Handler[Registry]] = {
        ("/tenants", "GET"): _list_tenants,
        ("/tenants/{tenant}", "PATCH"): _update_tenant,
        ("/tenants/{tenant}/apps", "GET"): _list_apps,
        ("/tenants/{tenant}/apps", "POST"): _add_app,
        ("/tenants/{tenant}/apps/{client}/secret", "POST"): _rotate_secret,
        ("/tenants/{tenant}/apps/{client}", "DELETE"): _remove_app,
    }
    return admin_routes(routes, registry, registry.access)


# --- tenants ---


async def _list_tenants(registry: Registry, request: Request) -> ASGIApp:
    tenants = await registry.calls.run(registry.tenants.list)
    ordered = sorted(tenants, key=lambda tenant: (tenant.display_name, tenant.tenant_id))
    return GraphResponse.json({"value": [_tenant_json(tenant) for tenant in ordered]})


async def _update_tenant(registry: Registry, request: Request) -> ASGIApp:
    tenant_id = path_tenant(request)
    body = _members(await read_json(request, limit=TENANT_LIMIT), _TENANT_MEMBERS, "A tenant change")
    licensed, name = body.get("licensed"), body.get("displayName")
    if licensed is not None and not isinstance(licensed, bool):
        raise BadRequest("'licensed' must be a boolean.")
    if name is not None and not isinstance(name, str):
        raise BadRequest("'displayName' must be a string.")
    tenant = await registry.calls.run(registry.tenants.find, tenant_id)
    if tenant is None:
        raise Unregistered(f"The tenant {tenant_id} is not registered; POST /tenants registers it.")
    changed = replace(
        tenant,
        display_name=tenant.display_name if name is None else name,
        intune_license=tenant.intune_license if licensed is None else licensed,
    )
    await registry.calls.run(registry.tenants.put, changed)
    # This instance's cached licence goes now; other instances' expire within the cache's few seconds.
    registry.licences.forget(tenant_id)
    return GraphResponse.json(_tenant_json(changed))


def _tenant_json(tenant: Tenant) -> dict[str, object]:
    # The shape `POST /tenants` answers with.
    return {"tenant": tenant.tenant_id, "displayName": tenant.display_name, "licensed": tenant.intune_license}


# --- apps ---


async def _list_apps(registry: Registry, request: Request) -> ASGIApp:
    apps = await registry.calls.run(registry.apps.list, path_tenant(request))
    return GraphResponse.json({"value": [app_json(app) for app in apps]})


async def _add_app(registry: Registry, request: Request) -> ASGIApp:
    tenant_id = path_tenant(request)
    body = _members(await _optional_json(request), _APP_MEMBERS, "An app registration")
    name = body.get("displayName", DEFAULT_APP_NAME)
    if not isinstance(name, str):
        raise BadRequest("'displayName' must be a string.")
    secret, stored = new_secret()
    app = AppRegistration(
        tenant_id, str(uuid.uuid4()), name, _permissions(body.get("permissions")), hint(secret)
    )
    await registry.calls.run(registry.apps.add, app, stored)
    return GraphResponse.json({**app_json(app), "clientSecret": secret}, status_code=201)


async def _rotate_secret(registry: Registry, request: Request) -> ASGIApp:
    tenant_id, client_id = path_tenant(request), _client_id(request)
    secret, stored = new_secret()
    if not await registry.calls.run(registry.apps.replace_secret, tenant_id, client_id, stored, hint(secret)):
        raise _no_app(tenant_id, client_id)
    return GraphResponse.json({"tenantId": tenant_id, "clientId": client_id, "clientSecret": secret})


async def _remove_app(registry: Registry, request: Request) -> ASGIApp:
    tenant_id, client_id = path_tenant(request), _client_id(request)
    if not await registry.calls.run(registry.apps.remove, tenant_id, client_id):
        raise _no_app(tenant_id, client_id)
    return GraphResponse.empty()


def _permissions(raw: object) -> tuple[str, ...]:
    """The app's application permissions: every one graphtasks knows unless the body names some."""
    if raw is None:
        return ALL_PERMISSIONS
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise BadRequest("'permissions' must be a list of permission names.")
    permissions = parse_permissions(raw)
    if not permissions:
        raise BadRequest(f"'permissions' names none; choose from {', '.join(ALL_PERMISSIONS)}.")
    unknown = [name for name in permissions if name not in ALL_PERMISSIONS]
    if unknown:
        raise BadRequest(f"Unknown permission {unknown[0]!r}; choose from {', '.join(ALL_PERMISSIONS)}.")
    return permissions


def _client_id(request: Request) -> str:
    """The path's client id, a GUID in canonical form."""
    return path_guid(request, "client", "client id")


def _no_app(tenant_id: str, client_id: str) -> Unregistered:
    return Unregistered(f"The tenant {tenant_id} has no app with client id {client_id}.")


# --- bodies ---


async def _optional_json(request: Request) -> object:
    """The JSON body, or an empty object for a request that sends none: every member is optional."""
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return {}
    return await read_json(request, limit=TENANT_LIMIT)


def _members(body: object, allowed: frozenset[str], what: str) -> dict[str, object]:
    """The body as an object holding no member but `allowed` ones."""
    if not isinstance(body, dict):
        raise BadRequest(f"{what} is a JSON object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"{what} has no member {unknown[0]!r}; it takes {', '.join(sorted(allowed))}.")
    return body
