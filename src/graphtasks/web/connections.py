"""How the HTTP server itself guards its connections: the uvicorn options that bound what one client
may send and hold (web/connections.py is the only place that knows uvicorn's knobs for this; the
protocol that enforces them is web/http_protocol.py).

Past a limit a client gets a Graph error body, or its connection is closed, and never holds a worker:

    request URL (request-target) > max_url_bytes        414 RequestUriTooLong, then closed
    header fields > max_header_bytes                    431 RequestHeaderFieldsTooLarge, then closed
    head not complete header_timeout_s after the        408 RequestTimeout, then closed (closed silently
      connection opened or the last response ended        when not a byte of a request came)
    a body pause longer than body_timeout_s             408 RequestTimeout, then closed
    more than max_connections open, or as many          503 ServiceUnavailable + Retry-After: 1, closed
      requests running
    more connections than hard_max_connections          closed at once, nothing read
    malformed HTTP                                      400 BadRequest, then closed
    a body past max_body_bytes (the most any route      413 RequestEntityTooLarge, then closed (closed
      reads, and room for what arrives unread)            without an answer when it was answered)

Each route reads its body within its own limit and answers in its own shape (web/bodies.py); the
protocol is the backstop that no body ever passes, whoever reads it. Why the sizes: 16 KiB is
http.sys's default for one header line (MaxFieldLength), the front door Graph answers behind, so a URL
Graph itself accepts fits; 64 KiB of headers holds several large tokens. Both are judgments (Graph's
exact limits are not published), and Settings lets a deployment change them.

Imports nothing of uvicorn at module level, so the CLI can read it before the server loads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from graphtasks.config import Settings

# uvicorn's idle time between two requests on one connection; shorter than the header timeout, so an
# idle keep-alive connection is closed quietly, without a 408.
KEEP_ALIVE_S = 5
# What may have arrived unread when a route refuses a body at its limit: uvicorn buffers 64 KiB before
# it stops reading the socket, and one read takes up to 256 KiB. The protocol's body limit leaves this
# much room past the largest route limit, so that a route always answers first, in its own shape.
_UNREAD_BODY_BYTES = 512 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may send and how long it may take (plain values: worker processes receive
    this pickled)."""

    max_url_bytes: int
    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int
    max_body_bytes: int

    @property
    def hard_max_connections(self) -> int:
        """Past max_connections a request still gets its 503, which takes a connection to send; past
        this many more, a connection is closed at once, so a flood cannot take every descriptor."""
        return self.max_connections + max(10, self.max_connections // 10)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        # Imported here: web/bodies.py loads starlette, which the CLI need not load to show its help.
        from graphtasks.web.bodies import largest_limit

        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=settings.max_connections,
            max_body_bytes=largest_limit(settings.max_body_bytes) + _UNREAD_BODY_BYTES,
        )


def connection_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments for the limits in Settings."""
    from graphtasks.web.http_protocol import GraphHttpProtocol

    limits = ConnectionLimits.from_settings(settings)
    return {
        # A partial of a module-level class pickles, as `serve --workers` needs: uvicorn sends its
        # Config to spawned workers, and calls this with the Config's own keyword arguments.
        "http": functools.partial(GraphHttpProtocol, limits=limits),
        # GraphHttpProtocol answers these itself; uvicorn's h11 protocol, should one be configured
        # instead, would still be bounded by the two below (with plain-text errors).
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_url_bytes + settings.max_header_bytes,
        "timeout_keep_alive": KEEP_ALIVE_S,
    }


# Descriptors a process needs besides its client connections: database connections, log files, the
# listening socket, the worker threads' needs.
_OTHER_DESCRIPTORS = 200


def raise_descriptor_limit(settings: Settings) -> None:
    """Raise this process's soft limit on open files towards what the connection cap needs (up to the
    hard limit), so the cap, not EMFILE, is what turns clients away; a common soft limit is 1024."""
    import resource

    needed = ConnectionLimits.from_settings(settings).hard_max_connections + _OTHER_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
