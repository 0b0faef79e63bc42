"""graphtasks.web.connections (the uvicorn options) and web/http_protocol.py driven without a socket.

The protocol's behaviour on a real port is tests/integration/test_limits.py; here are the options'
hand-off to worker processes, and the cases a real client cannot produce on demand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import pickle
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.types import Message
from uvicorn.config import Config
from uvicorn.server import ServerState

from graphtasks.config import Settings
from graphtasks.web.connections import ConnectionLimits, connection_options
from graphtasks.web.http_protocol import GraphHttpProtocol

SETTINGS = Settings(max_url_bytes=2048, max_header_bytes=4096, header_timeout_s=2.5, body_timeout_s=4.5)
LIMITS = ConnectionLimits(
    max_url_bytes=2048,
    max_header_bytes=4096,
    header_timeout_s=2.5,
    body_timeout_s=4.5,
    max_connections=1000,
    max_body_bytes=(4 * 1024 + 512) * 1024,  # past Graph's 4 MiB, the largest route limit under SETTINGS
)


def test_options_carry_the_limits_to_the_protocol() -> None:
    options = connection_options(SETTINGS)
    http = options["http"]
    assert isinstance(http, functools.partial)
    assert (http.func, http.keywords) == (GraphHttpProtocol, {"limits": LIMITS})
    assert options["limit_concurrency"] == 1000
    assert options["h11_max_incomplete_event_size"] == 2048 + 4096


def test_options_survive_the_pickling_to_worker_processes() -> None:
    http = pickle.loads(pickle.dumps(connection_options(SETTINGS)["http"]))  # noqa: S301 - our own bytes
    assert (http.func, http.keywords) == (GraphHttpProtocol, {"limits": LIMITS})


@pytest.mark.parametrize(("soft", "hard"), [(1, 11), (4, 14), (1000, 1100), (5000, 5500)])
def test_the_hard_connection_limit_leaves_room_for_503s(soft: int, hard: int) -> None:
    limits = dataclasses.replace(LIMITS, max_connections=soft)
    assert limits.hard_max_connections == hard


@pytest.mark.parametrize(
    ("max_body_bytes", "largest"), [(4 * 1024 * 1024, 4 * 1024 * 1024), (1024, 64 * 1024)]
)
def test_the_protocols_body_limit_is_past_the_largest_any_route_reads(
    max_body_bytes: int, largest: int
) -> None:
    # Below 64 KiB of Graph body, the token form's and the fault plan's limits are the largest; the
    # 512 KiB past it is what may have arrived unread when a route refuses at its own limit.
    limits = ConnectionLimits.from_settings(Settings(max_body_bytes=max_body_bytes))
    assert limits.max_body_bytes == largest + 512 * 1024


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _never_answers(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.Event().wait()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def _connected(
    loop: asyncio.AbstractEventLoop, app: Any = _never_answers, limits: ConnectionLimits = LIMITS
) -> tuple[GraphHttpProtocol, FakeTransport]:
    config = Config(app=app, log_level="critical", lifespan="off")
    protocol = GraphHttpProtocol(config, ServerState(), {}, loop, limits=limits)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def test_a_url_past_the_limit_is_refused_as_it_arrives(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport = _connected(loop)
    protocol.data_received(b"GET /" + b"a" * 1500)
    assert transport.written == b""
    protocol.data_received(b"a" * 1500)
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b"\r\nconnection: close" in head
    assert orjson.loads(body)["error"]["code"] == "RequestUriTooLong"
    assert transport.closed


def test_no_error_is_written_into_an_earlier_requests_answer(loop: asyncio.AbstractEventLoop) -> None:
    # A pipelined second request is too large while the first is still being answered: its 431
    # could not be told apart from the first answer, so the connection is closed with nothing written.
    protocol, transport = _connected(loop)
    protocol.data_received(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    loop.run_until_complete(asyncio.sleep(0))
    protocol.data_received(b"GET /b HTTP/1.1\r\nX-Padding: " + b"a" * 8000 + b"\r\n\r\n")
    assert (transport.written, transport.closed) == (b"", True)


def test_an_idle_connection_is_closed_at_its_deadline_without_an_answer(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport = _connected(loop)
    protocol._head_since -= 10  # as if the connection had opened ten seconds ago
    protocol._on_timer()
    assert (transport.written, transport.closed) == (b"", True)


def test_the_descriptor_limit_is_raised_to_what_the_connection_cap_needs() -> None:
    # In a child process: the limit is process-wide, and this one's must stay as it is.
    script = (
        "import resource\n"
        "from graphtasks.config import Settings\n"
        "from graphtasks.web.connections import raise_descriptor_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "raise_descriptor_limit(Settings(max_connections=500))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    soft, hard = (int(value) for value in done.stdout.split())
    assert soft == (750 if hard < 0 else min(750, hard))  # 500 + 50 past the cap + 200 others


# --- bodies: the backstop behind every route's own limit (web/bodies.py) ---

SMALL_BODIES = dataclasses.replace(LIMITS, max_body_bytes=1000)
CHUNKED_POST = b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(size: int) -> bytes:
    return b"%x\r\n" % size + b"a" * size + b"\r\n"


async def _answers_at_once(scope: Any, receive: Any, send: Any) -> None:
    """A route that answers without reading the body (a 401, a GET)."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_route_reading_past_the_largest_limit_gets_a_disconnect_and_the_client_a_413(
    loop: asyncio.AbstractEventLoop,
) -> None:
    received: list[Message] = []

    async def reads_without_a_limit(scope: Any, receive: Any, send: Any) -> None:
        while (message := await receive())["type"] == "http.request":
            received.append(message)

    protocol, transport = _connected(loop, reads_without_a_limit, SMALL_BODIES)
    protocol.data_received(CHUNKED_POST + _chunk(600))
    loop.run_until_complete(asyncio.sleep(0))
    protocol.data_received(_chunk(600) + _chunk(600))
    loop.run_until_complete(asyncio.sleep(0))
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    error = orjson.loads(body)["error"]
    assert (error["code"], error["message"]) == (
        "RequestEntityTooLarge",
        "The request body is larger than the limit of 1000 bytes.",
    )
    assert sum(len(message["body"]) for message in received) == 600  # never a byte past the limit
    assert transport.closed


@pytest.mark.parametrize(
    ("head", "rest"),
    [
        (CHUNKED_POST + _chunk(10), _chunk(600) + _chunk(600)),  # the body passes the limit later
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", b""),  # declared past it
    ],
    ids=["chunked", "declared"],
)
def test_an_answered_request_with_a_body_past_the_largest_limit_is_closed_without_a_second_answer(
    loop: asyncio.AbstractEventLoop, head: bytes, rest: bytes
) -> None:
    protocol, transport = _connected(loop, _answers_at_once, SMALL_BODIES)
    protocol.data_received(head)
    loop.run_until_complete(asyncio.sleep(0))
    protocol.data_received(rest)
    assert transport.written.count(b"HTTP/1.1 ") == 1
    assert transport.written.startswith(b"HTTP/1.1 200 ")
    assert transport.closed


def test_an_answered_request_with_a_body_within_the_limit_keeps_its_connection(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # The body of a request answered early (a 401, say) is read and dropped, and the next one served.
    protocol, transport = _connected(loop, _answers_at_once, SMALL_BODIES)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n")
    loop.run_until_complete(asyncio.sleep(0))
    protocol.data_received(b"a" * 900 + b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
    loop.run_until_complete(asyncio.sleep(0))
    assert (transport.written.count(b"HTTP/1.1 200 "), transport.closed) == (2, False)
