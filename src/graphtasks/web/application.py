"""GraphApplication: the ASGI callable the server runs. GraphContextMiddleware, then the dispatcher of
the Graph operations, then Starlette's router for the service's other endpoints.

Request path, outermost first:
  GraphContextMiddleware    canonical path, request-id / client-request-id / OData-Version, every
                            exception raised before the response started -> a Graph error body, the
                            request log's line and the journal's entry (web/journal.py)
  HostCheck                 a Host the server does not answer to -> 400 (web/hosts.py)
  GraphDispatcher           the route table (web/routes.py), matched segment by segment (web/dispatch.py);
                            a Graph path with a method it is not served with -> 405
    guard                   bearer token -> Principal, permission check, traffic gate (web/guard.py)
      handler               web/handlers.py, web/navigation.py -> storage (web/blocking.py)
  Router (Starlette)        every other path: $batch, documents, discovery and identity, admin; and the
                            lifespan. A path nothing serves -> 404 -> Graph's answer (web/middleware.py)
    $batch                  web/batch.py: each inner request sent through this whole stack

The Graph operations are the hot path, so they are matched without a router that tries a regular
expression per route; the other endpoints are few and seldom asked, and the router's path parameters,
405s and lifespan handling serve them as they are. Starlette's own application class would add
ServerErrorMiddleware and ExceptionMiddleware around this; GraphContextMiddleware already does both
jobs, so the layers are composed here directly. `scope["app"]` is set, as Starlette's application sets
it: the router raises HTTPException for 404/405 only then, and $batch sends its inner requests through
`request.app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import BaseRoute, Router
from starlette.types import Receive, Scope, Send

from graphtasks.web.dispatch import GraphDispatcher
from graphtasks.web.hosts import AllowedHosts, HostCheck
from graphtasks.web.journal import Journal
from graphtasks.web.middleware import GraphContextMiddleware
from graphtasks.web.request_log import RequestLog
from graphtasks.web.routes import GraphHandler, Operation


class GraphApplication:
    def __init__(
        self,
        graph: Iterable[tuple[Operation, GraphHandler]],
        routes: Sequence[BaseRoute],
        *,
        on_shutdown: Callable[[], None],
        hosts: AllowedHosts,
        request_log: RequestLog | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.close = on_shutdown  # what the server's shutdown runs; an in-process harness calls it

        @asynccontextmanager
        async def lifespan(_app: Any) -> AsyncIterator[None]:
            yield
            on_shutdown()

        # Paths are made canonical before routing, so a redirect would only turn writes into GETs.
        self.router = Router(list(routes), redirect_slashes=False, lifespan=lifespan)
        dispatcher = GraphDispatcher(graph, fallback=self.router)
        # When any Host is answered, no layer: it would only cost a call per request.
        routed = dispatcher if hosts.any_host else HostCheck(dispatcher, hosts)
        self._stack = GraphContextMiddleware(routed, request_log=request_log, journal=journal)

    @property
    def routes(self) -> list[BaseRoute]:
        """The router's routes: every endpoint but the Graph operations."""
        return self.router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        # Each router route's wrapper looks its exception handlers up here; there are none (the
        # middleware handles every error), and saying so spares it a KeyError raised and caught.
        scope["starlette.exception_handlers"] = _NO_HANDLERS
        await self._stack(scope, receive, send)


_NO_HANDLERS: tuple[dict[Any, Any], dict[int, Any]] = ({}, {})
