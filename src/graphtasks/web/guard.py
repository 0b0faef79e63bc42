"""Wrap a Graph handler with authentication (bearer token -> Principal), its permission check, and
the traffic gate (throttling, injected faults: web/gate.py), in that order.

The principal is left on the request (GraphRequest.principal) for the handler; it scopes every storage
call to its tenant.
It also names the request's Caller for web/blocking.py, from the token on: its storage calls count
against its tenant's share of the threads and are watched for the client leaving, through a receive
the handler shares with the watcher so that no body message is lost. A request inside a $batch counts
against the same tenant (the batch's token) and is not watched.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from graphtasks.auth.permissions import Access, authorize
from graphtasks.auth.tenants import TenantLicences, not_applicable
from graphtasks.auth.tokens import KeysOutdated, Principal, TokenVerifier
from graphtasks.web.blocking import (
    BlockingCalls,
    Caller,
    ClientLink,
    current_caller,
    reset_caller,
    set_caller,
)
from graphtasks.web.gate import TrafficGate
from graphtasks.web.request_log import BATCH_ITEM
from graphtasks.web.requests import GraphRequest
from graphtasks.web.routes import GraphHandler, Guard


def make_guard(
    verifier: TokenVerifier,
    licences: TenantLicences,
    *,
    calls: BlockingCalls,
    gate: TrafficGate,
    origin: Callable[[GraphRequest], str],
) -> Guard:
    """`origin` tells the origin a request reached: the server's own issuer may be named after it."""

    def guard(access: Access | None, handler: GraphHandler) -> GraphHandler:
        name = handler.__name__

        async def guarded(request: GraphRequest) -> ASGIApp:
            if current_caller() is not None:  # a $batch's request, run by its handler
                return await admitted(request, await authenticated(request))
            client = _client_of(request)
            if client is not None:
                # The handler's receive is the client's, shared with the watcher. Made first, so that
                # the headers are parsed once, on the request the handler gets.
                request = request.with_receive(client.receive)
            principal = await authenticated(request)
            token = set_caller(Caller(principal.tenant_id, client))
            try:
                return await admitted(request, principal)
            finally:
                reset_caller(token)

        async def authenticated(request: GraphRequest) -> Principal:
            authorization = request.headers.get("authorization")
            return await _authenticate(verifier, authorization, origin(request), calls)

        async def admitted(request: GraphRequest, principal: Principal) -> ASGIApp:
            # Known from here on, whatever the answer: the request log and the journal file a refused
            # or throttled request under its tenant too.
            request.principal = principal
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


def _client_of(request: GraphRequest) -> ClientLink | None:
    """The client's side of a request it sent itself. A request inside a $batch has none: its receive
    is the batch's stand-in, which says "disconnect" as soon as the body is read, and a batch runs on
    when its client leaves (web/batch.py)."""
    if request.scope.get(BATCH_ITEM):
        return None
    # HTTP/1.1 framing: a request has a body only with a Transfer-Encoding or a non-zero Content-Length.
    for name, value in request.scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return ClientLink(request.receive, has_body=True)
    return ClientLink(request.receive, has_body=False)
