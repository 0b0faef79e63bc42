"""Wrap a Graph handler with authentication (bearer token -> Principal) and its permission check.

The principal is left on request.state for the handler; it scopes every storage call to its tenant.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from graphtasks.auth.keys import KeyRing
from graphtasks.auth.permissions import Access, authorize
from graphtasks.auth.tenants import TenantLicences, not_applicable
from graphtasks.auth.tokens import Principal, verify_bearer
from graphtasks.config import Settings
from graphtasks.web.routes import GraphHandler, Guard


def make_guard(keys: KeyRing, settings: Settings, licences: TenantLicences) -> Guard:
    def guard(access: Access, handler: GraphHandler) -> GraphHandler:
        async def guarded(request: Request) -> Response:
            principal = verify_bearer(
                request.headers.get("authorization"),
                keys,
                issuer_base=settings.issuer,
                leeway_s=settings.clock_skew_s,
            )
            # Before permissions: Graph refuses an unlicensed tenant whatever the token may do.
            licensed = licences.cached(principal.tenant_id)
            if licensed is None:
                licensed = await run_in_threadpool(licences.look_up, principal.tenant_id)
            if not licensed:
                raise not_applicable()
            authorize(principal, access)
            request.state.principal = principal
            return await handler(request)

        return guarded

    return guard


def principal_of(request: Request) -> Principal:
    principal = request.state.principal
    assert isinstance(principal, Principal)  # noqa: S101 - every Graph route is guarded
    return principal
