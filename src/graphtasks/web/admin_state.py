"""The admin endpoints for a tenant's state, its tokens and its journal (docs/testing.md, "The admin API"):

    POST   /graphtasks/admin/tokens                        a token, as `graphtasks token` signs it
    POST   /graphtasks/admin/tenants                       register a tenant (licensed or not)
    GET    /graphtasks/admin/tenants/{tenant}/export       the tenant's tasks, as an export document
    POST   /graphtasks/admin/tenants/{tenant}/import       add the tasks of a document
    DELETE /graphtasks/admin/tenants/{tenant}/tasks        reset: no tasks, an empty journal
    DELETE /graphtasks/admin/tasks                         reset every tenant
    GET    /graphtasks/admin/tenants/{tenant}/requests     the journal, oldest first
    DELETE /graphtasks/admin/tenants/{tenant}/requests     empty the journal
    PUT    /graphtasks/admin/tenants/{tenant}/faults       the fault rules of this tenant alone
    PUT    /graphtasks/admin/tenants/{tenant}/throttle     this tenant's throttling profile

Outside Graph's URL space; who may call them is auth/admin.py's AdminAccess. Errors are Graph-shaped.
An export is streamed a chunk of tasks at a time (web/exports.py); an import is read whole, up to
IMPORT_LIMIT, and written in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from graphtasks.auth.admin import AdminAccess
from graphtasks.auth.keys import KeyRing
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tenants import TenantLicences
from graphtasks.auth.tokens import TokenRequest, issue_token, parse_permissions
from graphtasks.config import DEFAULT_ISSUER, Settings
from graphtasks.errors import BadRequest
from graphtasks.model.fixtures import read_tasks
from graphtasks.model.records import StoredTask
from graphtasks.storage.base import TaskStore, Tenant
from graphtasks.traffic.faults import parse_plan
from graphtasks.traffic.throttling import parse_throttle
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.bodies import read_json
from graphtasks.web.exports import EXPORT_CHUNK, After, export_stream_async
from graphtasks.web.gate import TrafficGate
from graphtasks.web.journal import Journal
from graphtasks.web.responses import ODATA_JSON, GraphResponse

ADMIN = "/graphtasks/admin"
IMPORT_LIMIT = 256 * 1024 * 1024
TOKEN_REQUEST_LIMIT = 64 * 1024
TENANT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class AdminState:
    """What the state endpoints reach."""

    settings: Settings
    access: AdminAccess
    store: TaskStore
    keys: KeyRing
    tenants: Callable[[Tenant], None]
    licences: TenantLicences
    gate: TrafficGate
    journal: Journal | None
    calls: BlockingCalls


State = TypeVar("State")
# An admin endpoint's handler: what it reaches (`State`) and the request.
Handler = Callable[[State, Request], Awaitable[ASGIApp]]


def admin_routes(
    routes: dict[tuple[str, str], Handler[State]], state: State, access: AdminAccess
) -> list[Route]:
    """The routes below ADMIN, (path, method) -> handler, each given `state` once `access` admits the
    request."""

    def checked(handler: Handler[State]) -> Callable[[Request], Awaitable[ASGIApp]]:
        async def endpoint(request: Request) -> ASGIApp:
            access.check(request.scope, request.headers.get("authorization"))
            return await handler(state, request)

        return endpoint

    return [
        Route(ADMIN + path, checked(handler), methods=[method]) for (path, method), handler in routes.items()
    ]


def state_routes(state: AdminState) -> list[Route]:
    routes: dict[tuple[str, str], Handler[AdminState]] = {
        ("/tokens", "POST"): _mint_token,
        ("/tenants", "POST"): _register_tenant,
        ("/tenants/{tenant}/export", "GET"): _export,
        ("/tenants/{tenant}/import", "POST"): _import,
        ("/tenants/{tenant}/tasks", "DELETE"): _reset_tenant,
        ("/tasks", "DELETE"): _reset_all,
        ("/tenants/{tenant}/requests", "GET"): _journal,
        ("/tenants/{tenant}/requests", "DELETE"): _clear_journal,
        ("/tenants/{tenant}/faults", "PUT"): _tenant_faults,
        ("/tenants/{tenant}/throttle", "PUT"): _tenant_throttle,
    }
    return admin_routes(routes, state, state.access)


def path_tenant(request: Request) -> str:
    """The path's tenant id, a GUID in canonical form."""
    return path_guid(request, "tenant", "tenant id")


def path_guid(request: Request, parameter: str, what: str) -> str:
    """The path parameter `parameter`, a GUID, in canonical form; a 400 naming `what` otherwise."""
    raw = request.path_params[parameter]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise BadRequest(f"The {what} {raw!r} is not a GUID.") from None


# --- tokens and tenants ---


async def _mint_token(state: AdminState, request: Request) -> ASGIApp:
    body = await read_json(request, limit=TOKEN_REQUEST_LIMIT)
    if not isinstance(body, dict):
        raise BadRequest("A token request is a JSON object.")
    token_request = _token_request(body)
    issuer = state.settings.issuer or DEFAULT_ISSUER
    token = issue_token(
        state.keys, token_request, issuer_base=issuer, audience=state.settings.cloud.graph_url
    )
    return GraphResponse.json(
        {"access_token": token, "token_type": "Bearer", "expires_in": token_request.expires_in}
    )


def _token_request(body: dict[str, object]) -> TokenRequest:
    tenant, roles, scopes, user = body.get("tenant"), body.get("roles"), body.get("scopes"), body.get("user")
    expires = body.get("expiresIn", 3600)
    if not isinstance(tenant, str):
        raise BadRequest("'tenant' must be a tenant id.")
    if roles is not None and scopes is not None:
        raise BadRequest("Give 'roles' (an application token) or 'scopes' (a delegated token), not both.")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise BadRequest("'expiresIn' must be a number of seconds.")
    if user is not None and not isinstance(user, str):
        raise BadRequest("'user' must be a string.")
    delegated = scopes is not None or user is not None
    try:
        permissions = parse_permissions(_names(scopes or roles) or ALL_PERMISSIONS)
        tenant_id = str(uuid.UUID(tenant))
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return TokenRequest(
        tenant_id=tenant_id,
        roles=() if delegated else permissions,
        scopes=permissions if delegated else None,
        user=user,
        expires_in=expires,
    )


def _names(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise BadRequest("'roles' and 'scopes' are lists of permission names.")
    return tuple(raw)


async def _register_tenant(state: AdminState, request: Request) -> ASGIApp:
    body = await read_json(request, limit=TENANT_LIMIT)
    if not isinstance(body, dict):
        raise BadRequest("A tenant is a JSON object.")
    raw_id, licensed = body.get("tenant", str(uuid.uuid4())), body.get("licensed", True)
    name = body.get("displayName", "graphtasks tenant")
    if not isinstance(raw_id, str) or not isinstance(licensed, bool) or not isinstance(name, str):
        raise BadRequest("'tenant' is a GUID, 'licensed' a boolean and 'displayName' a string.")
    try:
        tenant_id = str(uuid.UUID(raw_id))
    except ValueError:
        raise BadRequest(f"The tenant id {raw_id!r} is not a GUID.") from None
    tenant = Tenant(tenant_id, name, licensed)
    await state.calls.run(state.tenants, tenant)
    state.licences.forget(tenant_id)
    return GraphResponse.json(
        {"tenant": tenant_id, "displayName": name, "licensed": licensed}, status_code=201
    )


# --- tasks ---


async def _export(state: AdminState, request: Request) -> ASGIApp:
    tenant = path_tenant(request)

    async def read(after: After) -> list[StoredTask]:
        return await state.calls.run(state.store.tasks_of, tenant, after=after, limit=EXPORT_CHUNK)

    return StreamingResponse(export_stream_async(tenant, read), media_type=ODATA_JSON)


async def _import(state: AdminState, request: Request) -> ASGIApp:
    tenant = path_tenant(request)
    document = await read_json(request, limit=IMPORT_LIMIT)
    stored = read_tasks(document)
    await state.calls.run(state.store.add_tasks, tenant, stored)
    return GraphResponse.json({"tenant": tenant, "imported": len(stored)})


async def _reset_tenant(state: AdminState, request: Request) -> ASGIApp:
    tenant = path_tenant(request)
    deleted = await state.calls.run(state.store.remove_tasks, tenant)
    if state.journal is not None:
        state.journal.clear(tenant)
    return GraphResponse.json({"tenant": tenant, "deleted": deleted})


async def _reset_all(state: AdminState, request: Request) -> ASGIApp:
    deleted = await state.calls.run(state.store.remove_tasks, None)
    if state.journal is not None:
        state.journal.clear(None)
    return GraphResponse.json({"deleted": deleted})


# --- journal and faults ---


async def _journal(state: AdminState, request: Request) -> ASGIApp:
    tenant = path_tenant(request)
    entries = [] if state.journal is None else state.journal.entries(tenant)
    return GraphResponse.json({"value": [entry.to_json() for entry in entries]})


async def _clear_journal(state: AdminState, request: Request) -> ASGIApp:
    if state.journal is not None:
        state.journal.clear(path_tenant(request))
    return GraphResponse.empty()


async def _tenant_faults(state: AdminState, request: Request) -> ASGIApp:
    """Replace the rules of this tenant in the plan in force, keeping every other tenant's: each rule
    given applies to this tenant alone, whatever it names."""
    tenant = path_tenant(request)
    document = await read_json(request, limit=TENANT_LIMIT)
    try:
        plan = parse_plan(document, operations=state.gate.plans.operations)
    except ValueError as error:
        raise BadRequest(f"Invalid fault plan: {error}") from None
    version = await state.calls.run(state.gate.plans.replace_tenant, tenant, plan)
    return GraphResponse.json({"version": version, "tenant": tenant, **plan.for_tenant(tenant).to_json()})


async def _tenant_throttle(state: AdminState, request: Request) -> ASGIApp:
    """`{"profile": "intune" | "off" | "window=20,..."}` for the tenant alone, or `{"profile": null}`:
    the server's again (--throttle's syntax, traffic/throttling.py)."""
    tenant = path_tenant(request)
    document = await read_json(request, limit=TENANT_LIMIT)
    profile = document.get("profile") if isinstance(document, dict) else 0
    if profile is not None and not isinstance(profile, str):
        raise BadRequest('A throttling profile is {"profile": "off" | "intune" | "name=value,..." | null}.')
    try:
        limits = None if profile is None else parse_throttle(profile)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    state.gate.throttle_tenant(tenant, limits, own=profile is not None)
    return GraphResponse.json({"tenant": tenant, "profile": profile})
