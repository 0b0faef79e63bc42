"""Graph's request context and the single translation point from exceptions to Graph error bodies.

GraphContextMiddleware (pure ASGI, the outermost layer) puts the path in canonical form
(web/routes.py: canonical_path), assigns `request-id`, echoes `client-request-id` (or repeats
the request-id), and stamps both plus `OData-Version` on every response. It is also where every
exception raised before the response started becomes Graph's `{"error": {"code", "message",
"innerError"}}`: ours (GraphError), the router's 404/405 (HTTPException) and anything unexpected (500).
Given a RequestLog, it also times each request and has its line written when the answer is done
(web/request_log.py), whatever the answer was; given a Journal, it files a copy of the request and its
answer there (web/journal.py).

Unexpected errors go to the `graphtasks` logger through an ErrorLog: a traceback the first time an
error strikes at a site, then only a count, at most once a minute per site (docs/resilience.md,
"Internal errors in the log"). No line carries an exception's message: a database error's names the
SQL and its parameters (tenant ids, the values a client sent), and others may echo request data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphtasks.errors import BadRequest, GraphError, MethodNotAllowed
from graphtasks.web.journal import Exchange, Journal
from graphtasks.web.request_log import RequestLog
from graphtasks.web.routes import canonical_path, unmatched_path_error

logger = logging.getLogger("graphtasks")

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


class GraphJSONResponse(Response):
    media_type = ODATA_JSON

    def render(self, content: Any) -> bytes:
        """A JSON value, or bytes already rendered (an answer made from a stored document)."""
        return content if isinstance(content, bytes) else orjson.dumps(content)


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


def error_response_for(request: Request, exc: Exception, errors: ErrorLog) -> Response:
    if isinstance(exc, GraphError):
        return error_response(request, exc)
    if isinstance(exc, HTTPException):
        return error_response(request, _router_error(request, exc))
    errors.record(exc, method=request.method, request_id=_state(request, "request_id"))
    return error_response(request, GraphError("An internal server error has occurred."))


def _router_error(request: Request, exc: HTTPException) -> GraphError:
    """Starlette's own 404/405 (no route, wrong method) become Graph's answers."""
    if exc.status_code == 404:
        return unmatched_path_error(request.url.path)
    if exc.status_code == 405:
        return MethodNotAllowed(_allowed_methods(request))
    return BadRequest(str(exc.detail))


def error_response(request: Request, exc: GraphError) -> Response:
    body = error_body(
        exc,
        request_id=_state(request, "request_id"),
        client_request_id=_state(request, "client_request_id"),
        url=str(request.url),
    )
    return Response(orjson.dumps(body), exc.status, headers=exc.headers, media_type="application/json")


def error_body(exc: GraphError, *, request_id: str, client_request_id: str, url: str) -> dict[str, Any]:
    message = _intune_message(exc.message, client_request_id, url) if exc.intune_envelope else exc.message
    inner: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
        **exc.inner_error_extra,
    }
    if exc.message_in_inner_error:
        inner["message"] = message
    return {"error": {"code": exc.code, "message": message, "innerError": inner}}


def _intune_message(message: str, activity_id: str, url: str) -> str:
    """Intune's JSON-in-string error message (docs/graph-behaviour.md, "Errors"), indented with CRLF
    like .NET's."""
    document = {
        "_version": 3,
        "Message": f"{message} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000"
        f" - Activity ID: {activity_id} - Url: {url}",
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    return json.dumps(document, indent=2).replace("\n", "\r\n")


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path) and route.methods:
            methods |= route.methods
    return sorted(methods)


def _state(request: Request, name: str) -> str:
    value = request.scope.get("state", {}).get(name)
    return value if isinstance(value, str) else str(uuid.uuid4())


# At most one line per this many seconds for a site's repeated errors; a site's first error is
# written at once, with its traceback.
ERROR_COUNT_INTERVAL_S = 60.0
# Sites told apart; errors at any site past these share one entry, "other sites".
MAX_ERROR_SITES = 256
# Causes and contexts shown with an error, innermost first, as Python prints them.
_MAX_CHAIN = 8
_OTHER_SITES: tuple[object, ...] = ("other sites",)


@dataclass
class _Site:
    name: str
    last_written: float
    unwritten: int = 0


class ErrorLog:
    """Unexpected errors on the `graphtasks` logger, in lines bounded however often they strike.

    A site is where an error was raised: its type and the code lines its traceback passed through. The
    first error at a site is written with its traceback (frames and exception types: never a message,
    see the module's docstring); later ones at that site are only counted, and the count is written
    with the next of them once `interval_s` has passed since the site's last line. Called on the event
    loop only, so it holds no lock."""

    def __init__(
        self,
        *,
        interval_s: float = ERROR_COUNT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        max_sites: int = MAX_ERROR_SITES,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._max_sites = max_sites
        self._sites: dict[tuple[object, ...], _Site] = {}

    def record(self, error: BaseException, *, method: str, request_id: str) -> None:
        now, key = self._clock(), _site_key(error)
        if key not in self._sites and len(self._sites) >= self._max_sites:
            key = _OTHER_SITES
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = _Site(hashlib.sha256(repr(key).encode()).hexdigest()[:8], now)
            logger.error(
                "unhandled %s in %s request %s (error site %s)\n%s",
                _type_name(error), method, request_id, site.name, _scrubbed_traceback(error),
            )  # fmt: skip
            return
        site.unwritten += 1
        if now - site.last_written >= self._interval_s:
            logger.error(
                "unhandled %s at error site %s: %d more in the last %.0f s (latest: %s request %s)",
                _type_name(error), site.name, site.unwritten, now - site.last_written, method, request_id,
            )  # fmt: skip
            site.last_written, site.unwritten = now, 0


def _site_key(error: BaseException) -> tuple[object, ...]:
    """The error's type and the (file, line) of each frame it was raised through; frames only, never
    their source text or locals, so that building it costs next to nothing."""
    frames = tuple((frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(error.__traceback__))
    return (_type_name(error), frames)


def _scrubbed_traceback(error: BaseException) -> str:
    """Python's traceback text for the error and what caused it, innermost first, with each exception
    named by its type (and its SQLSTATE, for a database error) instead of its message."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < _MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        + _described(exc)
        for exc in reversed(chain)
    ]
    return "\nwhich led to\n".join(parts)


def _described(error: BaseException) -> str:
    code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None)
    return f"{_type_name(error)}{f' ({code})' if isinstance(code, str) else ''}: message not logged"


def _type_name(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
