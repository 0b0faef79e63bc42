"""graphtasks.web.connections (the uvicorn options) and web/http_protocol.py driven without a socket.

The protocol's behaviour on a real port is tests/integration/test_limits.py; here are the options'
hand-off to worker processes, and the cases a real client cannot produce on demand.
"""

from __future__ import annotations

import asyncio
import functools
import pickle
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from graphtasks.config import Settings
from graphtasks.web.connections import ConnectionLimits, connection_options
from graphtasks.web.http_protocol import GraphHttpProtocol

SETTINGS = Settings(max_url_bytes=2048, max_header_bytes=4096, header_timeout_s=2.5, body_timeout_s=4.5)
LIMITS = ConnectionLimits(
    max_url_bytes=2048, max_header_bytes=4096, header_timeout_s=2.5, body_timeout_s=4.5, max_connections=1000
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
    limits = ConnectionLimits(
        max_url_bytes=1024, max_header_bytes=1024, header_timeout_s=1, body_timeout_s=1, max_connections=soft
    )
    assert limits.hard_max_connections == hard


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


def _connected(loop: asyncio.AbstractEventLoop) -> tuple[GraphHttpProtocol, FakeTransport]:
    config = Config(app=_never_answers, log_level="critical", lifespan="off")
    protocol = GraphHttpProtocol(config, ServerState(), {}, loop, limits=LIMITS)
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
