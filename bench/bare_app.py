"""The baseline for the load benchmark: a bare ASGI app that answers every request with 201 and a small
constant JSON body, with no framework, routing, authentication or database.

It is served the way `graphtasks serve` serves graphtasks (cli/serve.py's uvicorn.run call: one worker, access
log off, log level warning, no Server header), so the ratio graphtasks/bare measures what graphtasks adds
on top of the server stack. It reads each request body before answering, as graphtasks does.

    python bench/bare_app.py --port 8001          # the same uvicorn.run call as cli/serve.py
    uvicorn bench.bare_app:app --port 8001 --no-access-log --log-level warning --no-server-header
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b'{"id":"bare","status":"created"}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode("ascii")),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI 3 entry point: HTTP requests get the constant 201; lifespan events are acknowledged."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    await _drain_body(receive)
    await send({"type": "http.response.start", "status": 201, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _drain_body(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `app` with the same uvicorn.run arguments as `graphtasks serve` (its request log off)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
