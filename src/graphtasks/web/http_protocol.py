"""GraphHttpProtocol: uvicorn's httptools HTTP/1.1 protocol with the limits of web/connections.py.

httptools itself bounds nothing: it buffers a header of any size, uvicorn answers a URL past 64 KiB
with a plain-text 400, has no timeout before the first request or inside a head or a body, and its
concurrency limit answers a plain-text 503 without Retry-After. This subclass adds, per connection:
- sizes: the URL as it arrives (on_url), the header fields when they are complete, the bytes of
  a head still incomplete (data_received), which bounds what httptools buffers, and the bytes of a
  body as they arrive (on_body), whoever reads them;
- one timer, re-armed rather than made anew per request, for whichever deadline applies: the head
  (from the connection's start or the end of the last response) or the body (from its last chunk);
  time the application takes, reading or answering, is never counted against the client;
- the connection limits (on_headers_complete, connection_made).
Errors are written here, before any application runs, as Graph bodies (web/error_bodies.py's
error_body); then the connection is closed after a short linger, so that a client still sending
reads the answer rather than a reset.

Imported only by the server (web/connections.py loads it when the server starts).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from graphtasks.errors import (
    BadRequest,
    GraphError,
    HeadersTooLarge,
    PayloadTooLarge,
    RequestTimeout,
    ServiceUnavailable,
    UriTooLong,
)
from graphtasks.web.connections import ConnectionLimits
from graphtasks.web.error_bodies import error_body
from graphtasks.web.middleware import header_value

logger = logging.getLogger("graphtasks")

# How long a refused connection is still read (and the bytes dropped) before it is closed.
_LINGER_S = 2.0
# Closing a TLS connection sends close_notify and then waits for the client's, up to asyncio's
# ssl_shutdown_timeout (30 s); a client idle in its connection pool never sends it, and uvicorn's
# shutdown waits for every connection to be gone. When the server stops, a TLS connection still
# closing this long after is dropped.
_TLS_GOODBYE_S = 0.5


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; uvicorn then calls send_400_response."""


class GraphHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        # uvicorn's own check would answer its plain-text 503 first; _over_limit answers instead.
        self.limit_concurrency = None
        self._refusal: GraphError | None = None
        self._lingering = False
        # The parser's state: waiting for (or reading) a head, or reading a body.
        self._in_head = True
        self._message_begun = False
        self._messages = 0
        self._head_bytes = 0
        self._body_bytes = 0  # of the current request, as received
        self._body_unwanted = False  # its declared length is past every route's limit
        now = self.loop.time()
        self._head_since = now  # when the wait for the current head began
        self._body_since = now  # the last body chunk (or the end of the head)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._stopping = False  # the server is shutting down
        self._lost = False

    # --- connection ---

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.hard_max_connections:
            logger.warning("connection refused: %d connections open", len(self.connections))
            transport.abort()
            return
        self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._cancel_timer()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """uvicorn's: close an idle connection now, a busy one once its answer is out."""
        self._stopping = True
        super().shutdown()
        self._drop_tls_when_closing()

    def _drop_tls_when_closing(self) -> None:
        if self.transport.is_closing() and self.transport.get_extra_info("sslcontext") is not None:
            self.loop.call_later(_TLS_GOODBYE_S, self._drop)

    def _drop(self) -> None:
        if not self._lost:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # a refused request's remainder: read only so that the client sees the answer
        counted = self._in_head
        messages = self._messages
        super().data_received(data)
        if self.transport.is_closing() or self._lingering:
            return
        if counted and self._in_head and messages == self._messages:
            # All of `data` belonged to a head still incomplete, which httptools keeps in memory.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_url_bytes + self.limits.max_header_bytes:
                self._refuse(self._headers_too_large())
                return
        self._schedule()

    # --- parser callbacks ---

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._message_begun = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            self._refusal = UriTooLong(
                f"The request URL is longer than the limit of {self.limits.max_url_bytes} bytes."
            )
            raise _Refused

    def on_headers_complete(self) -> None:
        if self._lingering:
            return  # a request pipelined behind a refused one: never run
        # As sent: "name: value\r\n" for each field.
        if sum(len(name) + len(value) + 4 for name, value in self.headers) > self.limits.max_header_bytes:
            self._refusal = self._headers_too_large()
            raise _Refused
        self._in_head = False
        self._head_bytes = 0
        self._body_since = self.loop.time()
        self._body_bytes = 0
        self._body_unwanted = _declared_length(self.headers) > self.limits.max_body_bytes
        if self._over_limit():
            logger.warning("request refused: %d connections open", len(self.connections))
            # uvicorn runs whatever self.app is when the head completes: this once, the 503.
            app, self.app = self.app, self._unavailable
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused body, still in the buffer being parsed
        self._body_since = self.loop.time()
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body_bytes:
            # A body sent without a length, or read by a route past every limit: stop it here, so no
            # body is ever held or read whole (web/bodies.py answers first within a route's limit).
            limit = self.limits.max_body_bytes
            self._refuse(PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes."))
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._message_begun = True, False
        self._messages += 1
        if self._idle():  # answered before its body was read: the wait for the next head starts now
            self._head_since = self.loop.time()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._stopping:
            self._drop_tls_when_closing()
        elif self._in_head:
            self._head_since = self.loop.time()
            self._schedule()
        elif self._body_unwanted and not self._lingering and not self.transport.is_closing():
            # Answered (a 413 at once, or a 401) before a body longer than any route reads: close
            # rather than read the rest. RFC 9112, "Tear-down": half-close, then read a while, so the
            # client still sending reads the answer rather than a reset.
            self._linger()

    # --- errors written before (or instead of) the application's answer ---

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools could not parse, or one a callback refused."""
        refusal, self._refusal = self._refusal, None
        self._refuse(refusal or BadRequest(msg))

    def _refuse(self, error: GraphError) -> None:
        """Answer `error` in place of the current request's answer, then close the connection."""
        if self.transport.is_closing() or self._lingering:
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self._in_head:
            # This request was answered before its body came: the client has its one answer.
            self._linger()
            return
        if cycle is not None and not cycle.response_complete:
            if self._in_head or cycle.response_started:
                # An earlier request's answer is under way (pipelining), or half of this one is out:
                # an error now could not be told apart from it.
                self.transport.close()
                return
            # The application must neither answer after this nor wait for the rest of the body.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.write(self._error_bytes(error))
        self._linger()

    def _linger(self) -> None:
        self._lingering = True
        self._cancel_timer()
        if not self.transport.can_write_eof():  # TLS: no half-close
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self._timer = self.loop.call_later(_LINGER_S, self.transport.close)

    def _error_bytes(self, error: GraphError) -> bytes:
        headers, body = self._error_response(error)
        fields = (
            name + b": " + value + b"\r\n" for name, value in (*self.server_state.default_headers, *headers)
        )
        return b"".join([STATUS_LINE[error.status], *fields, b"\r\n", body])

    def _error_response(self, error: GraphError) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and Graph body of an error, with `connection: close`."""
        request_id = str(uuid.uuid4())
        client_request_id = header_value(self.headers, b"client-request-id") or request_id
        body = orjson.dumps(
            error_body(error, request_id=request_id, client_request_id=client_request_id, url="")
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"request-id", request_id.encode()),
            (b"client-request-id", client_request_id.encode("latin-1")),
            *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
            (b"connection", b"close"),
        ]
        return headers, body

    def _headers_too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"The request's header fields are larger than the limit of {self.limits.max_header_bytes} bytes."
        )

    # --- connection limits ---

    def _over_limit(self) -> bool:
        # This connection is among those counted; the request's own task is not yet.
        limit = self.limits.max_connections
        return len(self.connections) > limit or len(self.tasks) >= limit

    async def _unavailable(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI answer past the connection limit (uvicorn runs it as it would the application)."""
        error = ServiceUnavailable(
            "The server has as many connections as it serves; retry after the time in Retry-After.",
            retry_after_s=1,
        )
        headers, body = self._error_response(error)
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # --- timeouts ---

    def _idle(self) -> bool:
        """No request of this connection is being answered: the next move is the client's."""
        return self.cycle is None or self.cycle.response_complete

    def _deadline(self) -> float | None:
        """When the client's current turn runs out; None while the server has the turn."""
        if not self._in_head:
            if self.flow.read_paused or (self.cycle is not None and self.cycle.waiting_for_100_continue):
                # The application has not read what came, or has not yet asked for the body.
                self._body_since = self.loop.time()
                return None
            return self._body_since + self.limits.body_timeout_s
        return self._head_since + self.limits.header_timeout_s if self._idle() else None

    def _schedule(self) -> None:
        """Arm the timer for the current deadline, unless it already fires no later."""
        deadline = self._deadline()
        if deadline is None:
            deadline = self.loop.time() + min(self.limits.header_timeout_s, self.limits.body_timeout_s)
        if self._timer is None or deadline < self._timer_at:
            self._cancel_timer()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._lingering:
            return
        deadline = self._deadline()
        if deadline is not None and deadline <= self.loop.time():
            self._expire()
        else:
            self._schedule()

    def _expire(self) -> None:
        if (self._in_head and not self._message_begun) or (not self._in_head and self._idle()):
            # Nothing was asked (an idle connection), or the request was answered before its body
            # came (a 401, say): there is nobody to tell.
            self.transport.close()
            return
        if self._in_head:
            message = f"The request's headers did not arrive within {self.limits.header_timeout_s:g} seconds."
        else:
            message = f"The request body paused for more than {self.limits.body_timeout_s:g} seconds."
        self._refuse(RequestTimeout(message))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length of a request, 0 without one (httptools has refused a malformed one)."""
    value = header_value(headers, b"content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else 0
