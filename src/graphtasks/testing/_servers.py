"""The two kinds of server a testing handle talks to: the application in this process, on an event loop
of its own, reached through httpx transports with no socket; and `graphtasks serve` in a process of its
own on a free loopback port. Both give the handle the same three things: a base URL, a sync transport
and an async one; everything else goes through HTTP (the Graph API and the admin API), so a handle
behaves the same on either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from graphtasks.app import create_app
from graphtasks.config import MEMORY_DATABASE, Settings
from graphtasks.web.application import GraphApplication

T = TypeVar("T")

# The in-process server's origin: `.test` is reserved (RFC 2606), so no real host can answer it should a
# URL from a response be sent somewhere by mistake.
IN_PROCESS_URL = "http://graphtasks.test"
READY_TIMEOUT_S = 30.0


class Server(Protocol):
    base_url: str

    def transport(self) -> httpx.BaseTransport: ...

    def async_transport(self) -> httpx.AsyncBaseTransport: ...

    def close(self) -> None: ...


class InProcessServer:
    """create_app's application, on an event loop running in a daemon thread. Every request, from any
    thread or event loop, is answered on that loop, so the application's own asyncio objects (its
    semaphores, its caches' locks) always live on one loop, whichever loops the tests run."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or Settings(database_url=MEMORY_DATABASE, request_log=False)
        self.base_url = settings.base_url or IN_PROCESS_URL
        self.app: GraphApplication = create_app(dataclasses.replace(settings, base_url=self.base_url))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="graphtasks", daemon=True)
        self._thread.start()
        self._asgi = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def answer(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The application's whole answer to `request` (whose body was read), on the server's loop."""
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return response.status_code, list(response.headers.raw), content

    def transport(self) -> httpx.BaseTransport:
        return _SyncTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        return _AsyncTransport(self)

    def close(self) -> None:
        self.app.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def _copy(request: httpx.Request, body: bytes) -> httpx.Request:
    """The request with its body read, so the server's loop never touches the caller's stream."""
    return httpx.Request(request.method, request.url, headers=request.headers, content=body)


def _response(request: httpx.Request, answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> httpx.Response:
    status, headers, content = answer
    # The body is whole: its length is what was received, however it was framed.
    kept = [(name, value) for name, value in headers if name.lower() != b"transfer-encoding"]
    return httpx.Response(status, headers=kept, content=content, request=request)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, server: InProcessServer) -> None:
        self._server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._server.run(self._server.answer(_copy(request, request.read()))).result()
        return _response(request, answer)


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, server: InProcessServer) -> None:
        self._server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        future = self._server.run(self._server.answer(_copy(request, await request.aread())))
        return _response(request, await asyncio.wrap_future(future))


class ProcessServer:
    """`graphtasks serve` on a free loopback port, in a process of its own, until closed. Its output goes
    to a log file, named in the error should it not start."""

    def __init__(self, arguments: Sequence[str] = ("--database", MEMORY_DATABASE)) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="graphtasks-", suffix=".log", delete=False)
        command = [sys.executable, "-m", "graphtasks", "serve", "--port", str(self.port), *arguments]
        # The command is this interpreter running graphtasks, with the caller's own flags.
        self.process = subprocess.Popen(  # noqa: S603
            command, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    client.get("/beta/$metadata")
                    return
                except httpx.TransportError:
                    time.sleep(0.05)
        self.close()
        raise RuntimeError(f"graphtasks serve did not start; its output: {Path(self._log.name).read_text()}")

    def transport(self) -> httpx.BaseTransport:
        return httpx.HTTPTransport()

    def async_transport(self) -> httpx.AsyncBaseTransport:
        # No connection kept between requests: a kept one belongs to the event loop that opened it, and
        # a test's client may be used from the next test's loop.
        return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
