"""Graph's request context and the single translation point from exceptions to Graph error bodies.

GraphContextMiddleware (pure ASGI, the outermost layer) puts the path in canonical form
(web/routes.py: canonical_path), assigns `request-id`, echoes `client-request-id` (or repeats
the request-id), and stamps both plus `OData-Version` on every response. It is also where every
exception raised before the response started becomes Graph's `{"error": {"code", "message",
"innerError"}}`: ours (GraphError, the dispatcher's 405 among them: web/dispatch.py), the router's
404/405 (HTTPException) and anything unexpected (500).
Given a RequestLog, it also times each request and has its line written when the answer is done
(web/request_log.py), whatever the answer was; given a Journal, it files a copy of the request and its
answer there (web/journal.py).

Unexpected errors go to the `graphtasks` logger through an ErrorLog (web/error_log.py): a traceback
the first time an error strikes at a site, then only a count. The error body itself is made by
web/error_bodies.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphtasks.errors import BadRequest, GraphError, MethodNotAllowed
from graphtasks.web.error_bodies import error_response, request_state
from graphtasks.web.error_log import ErrorLog
from graphtasks.web.journal import Exchange, Journal
from graphtasks.web.request_log import RequestLog
from graphtasks.web.responses import GraphResponse
from graphtasks.web.routes import canonical_path, unmatched_path_error


class GraphContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        request_log: RequestLog | None = None,
        journal: Journal | None = None,
        errors: ErrorLog | None = None,
    ) -> None:
        self.app = app
        self.request_log = request_log
        self.journal = journal
        self.errors = errors or ErrorLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.request_log is None and self.journal is None:
            await self._answer(scope, receive, send)
            return
        started_ns, started_at = time.time_ns(), time.perf_counter()
        exchange = Exchange(receive, send, keep_bodies=self.journal is not None)
        try:
            await self._answer(scope, exchange.receive if self.journal else receive, exchange.send)
        finally:
            elapsed_s = time.perf_counter() - started_at
            if self.request_log is not None:
                self.request_log.record(scope, exchange.status, elapsed_s)
            if self.journal is not None:
                exchange.file_in(self.journal, scope, started_ns, elapsed_s)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["path"] = canonical_path(scope["path"])
        # raw_path would otherwise disagree with path; nothing here routes on it.
        scope.pop("raw_path", None)
        request_id = str(uuid.uuid4())
        client_request_id = header_value(scope["headers"], b"client-request-id") or request_id
        scope.setdefault("state", {}).update(request_id=request_id, client_request_id=client_request_id)
        extra = [
            (b"request-id", request_id.encode()),
            (b"client-request-id", client_request_id.encode("latin-1")),
            (b"odata-version", b"4.0"),
            (b"cache-control", b"no-cache"),
        ]

        started = False

        async def send_with_context(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            return  # the client left while its body was read: nobody to answer, nothing went wrong
        except Exception as error:
            if started:
                raise
            # Answered here, not re-raised to the server: uvicorn would drop the keep-alive connection
            # the client is about to reuse.
            response = error_response_for(Request(scope), error, self.errors)
            await response(scope, receive, send_with_context)


def header_value(headers: Iterable[tuple[bytes, bytes]] | None, name: bytes) -> str | None:
    """The first value of header `name` (lower case) in raw ASGI headers, or None."""
    for key, value in headers or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def error_response_for(request: Request, exc: Exception, errors: ErrorLog) -> GraphResponse:
    if isinstance(exc, GraphError):
        return error_response(request, exc)
    if isinstance(exc, HTTPException):
        return error_response(request, _router_error(request, exc))
    errors.record(exc, method=request.method, request_id=request_state(request, "request_id"))
    return error_response(request, GraphError("An internal server error has occurred."))


def _router_error(request: Request, exc: HTTPException) -> GraphError:
    """Starlette's own 404 (a path nothing serves, a Graph path included) and 405 (a path one of the
    router's routes serves, with another method) become Graph's answers."""
    if exc.status_code == 404:
        return unmatched_path_error(request.url.path)
    if exc.status_code == 405:
        return MethodNotAllowed(_allowed_methods(request))
    return BadRequest(str(exc.detail))


def _allowed_methods(request: Request) -> list[str]:
    """Every method the router's routes serve the path with: several routes may share one path."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path) and route.methods:
            methods |= route.methods
    return sorted(methods)
