"""Wrap a Graph handler with authentication (bearer token -> Principal), its permission check, and
the traffic gate (throttling, injected faults: web/traffic.py), in that order.

The principal is left on request.state for the handler; it scopes every storage call to its tenant.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from graphtasks.auth.permissions import Access, authorize
from graphtasks.auth.tenants import TenantLicences, not_applicable
from graphtasks.auth.tokens import KeysOutdated, Principal, TokenVerifier
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.routes import GraphHandler, Guard
from graphtasks.web.traffic import TrafficGate


def make_guard(
    verifier: TokenVerifier,
    licences: TenantLicences,
    *,
    calls: BlockingCalls,
    gate: TrafficGate,
    origin: Callable[[Request], str],
) -> Guard:
    """`origin` tells the origin a request reached: the server's own issuer may be named after it."""

    def guard(access: Access | None, handler: GraphHandler) -> GraphHandler:
        name = handler.__name__

        async def guarded(request: Request) -> Response:
            authorization = request.headers.get("authorization")
            principal = await _authenticate(verifier, authorization, origin(request), calls)
            # Before permissions: Graph refuses an unlicensed tenant whatever the token may do.
            licensed = licences.cached(principal.tenant_id)
            if licensed is None:
                licensed = await calls.point_read(licences.look_up, principal.tenant_id)
            if not licensed:
                raise not_applicable()
            if access is not None:  # None: the handler checks each thing it does ($batch)
                authorize(principal, access)
                # Each request inside a $batch comes through here too, so it is throttled on its own.
                await gate.admit(
                    principal.tenant_id, principal.client_id, method=request.method, operation=name
                )
            request.state.principal = principal
            return await handler(request)

        return guarded

    return guard


async def _authenticate(
    verifier: TokenVerifier, authorization: str | None, origin: str, calls: BlockingCalls
) -> Principal:
    try:
        return verifier.verify(authorization, origin=origin)
    except KeysOutdated as outdated:
        # A trusted issuer's JWKS is read off the event loop, then the token judged on what it holds.
        await calls.run(outdated.refresh)
        return verifier.verify(authorization, origin=origin, may_refresh=False)


def principal_of(request: Request) -> Principal:
    principal = request.state.principal
    assert isinstance(principal, Principal)  # noqa: S101 - every Graph route is guarded
    return principal
