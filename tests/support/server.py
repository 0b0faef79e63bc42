"""Run `graphtasks serve` as a real process on a free port, and mint tokens for it."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from graphtasks.auth.keys import KeyRing, load_key_ring
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.cli.serve import settings_from_arguments
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT
from graphtasks.storage.engine import open_database
from graphtasks.storage.registry import SqlKeyStore
from graphtasks.testing._servers import InProcessServer
from tests.support.databases import database, sqlite_database

TASKS_PATH = "/beta/deviceAppManagement/deviceAppManagementTasks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    database_url: str
    log_path: Path
    extra_args: tuple[str, ...] = ()
    # For a server started with --tls: the CA file clients verify it with.
    ca: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _keys: KeyRing | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else True

    @property
    def tasks_url(self) -> str:
        return self.url + TASKS_PATH

    def start(self) -> Server:
        command = [
            sys.executable,
            "-m",
            "graphtasks",
            "serve",
            "--port",
            str(self.port),
            "--database",
            self.database_url,
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
            )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            if self.ca is not None and not self.ca.exists():  # the server makes its CA as it starts
                time.sleep(0.05)
                continue
            try:
                httpx.get(f"{self.url}/common/discovery/v2.0/keys", timeout=1.0, verify=self.verify)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a graceful shutdown waiting on a client's open connection
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def token(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        roles: tuple[str, ...] = ALL_PERMISSIONS,
        scopes: tuple[str, ...] | None = None,
        expires_in: int = 3600,
    ) -> str:
        request = TokenRequest(tenant_id=tenant, roles=roles, scopes=scopes, expires_in=expires_in)
        return issue_token(self.keys(), request, issuer_base=DEFAULT_ISSUER)

    def keys(self) -> KeyRing:
        if self._keys is None:
            database = open_database(self.database_url)
            try:
                self._keys = load_key_ring(SqlKeyStore(database))
            finally:
                database.dispose()
        return self._keys

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(
            base_url=self.url, headers=headers, timeout=30.0, verify=self.verify, transport=self.transport()
        )

    def transport(self) -> httpx.BaseTransport | None:
        """How requests reach this server; None: over the network."""
        return None

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """httpx.request, sent to this server however it is reached, with no token of its own."""
        with httpx.Client(timeout=30.0, verify=self.verify, transport=self.transport()) as http:
            return http.request(method, url, **options)


@contextmanager
def sqlite_server(directory: Path, *extra_args: str, ca: Path | None = None) -> Iterator[Server]:
    """`graphtasks serve` with `extra_args` on a fresh SQLite database in `directory`, stopped after."""
    with sqlite_database(directory) as url:
        running = Server(url, directory / "server.log", extra_args=extra_args, ca=ca).start()
        try:
            yield running
        finally:
            running.stop()


@contextmanager
def backend_server(
    backend: str, directory: Path, *extra_args: str, kind: type[Server] = Server
) -> Iterator[Server]:
    """`graphtasks serve` with `extra_args` on a fresh database of `backend` (sqlite or postgres); with
    `kind` AppServer, the application in this process."""
    with database(backend, directory) as url:
        running = kind(url, directory / "server.log", extra_args=extra_args).start()
        try:
            yield running
        finally:
            running.stop()


@dataclass
class AppServer(Server):
    """The same face as Server, for the application in this process: `graphtasks serve`'s flags make
    its settings, requests go through client() with no socket (graphtasks.testing's transports), and
    `url` names a port nothing listens on, so a request sent around client() fails loudly."""

    _harness: InProcessServer | None = None

    def start(self) -> AppServer:
        settings = settings_from_arguments(["--database", self.database_url, "--quiet", *self.extra_args])
        self._harness = InProcessServer(dataclasses.replace(settings, base_url=settings.base_url or self.url))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._harness is not None:
            self._harness.close()
            self._harness = None

    def transport(self) -> httpx.BaseTransport:
        assert self._harness is not None, "the server is not started"
        return self._harness.transport()

    def async_transport(self) -> httpx.AsyncBaseTransport:
        assert self._harness is not None, "the server is not started"
        return self._harness.async_transport()


def app_server(backend: str, directory: Path, *extra_args: str) -> AbstractContextManager[Server]:
    """The application in process, with `extra_args` as `graphtasks serve` flags, on a fresh database of
    `backend` (sqlite or postgres)."""
    return backend_server(backend, directory, *extra_args, kind=AppServer)
