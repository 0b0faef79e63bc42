"""Fixtures: a graphtasks server for each storage backend (in process, or on a real port), and clients
for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server, app_server, backend_server, sqlite_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# `-n auto` (pyproject.toml): a worker more than there are cores, since much of the suite waits on
# server processes, sockets and the CLI rather than computing; past eight, the longest modules bound
# the run anyway.
MAX_WORKERS = 8


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return min((os.cpu_count() or 1) + 1, MAX_WORKERS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a test marked slow go first: the workers take whole modules in this order, and
    a long one taken last would leave the others idle while it finishes."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)  # stable: file order otherwise kept


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module and backend, on its own fresh database: the application in this
    process, reached through `server.client()`. A module whose point is the process, the socket or the
    CLI asks for `real_server` instead."""
    with app_server(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def real_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`graphtasks serve` as a process on a real port, per test module and backend."""
    with backend_server(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as running:
        yield running


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on SQLite started with --tls; `server.ca` is the local CA clients must trust."""
    directory = tmp_path_factory.mktemp("tls-server")
    extra = ("--tls", "--tls-dir", str(directory / "tls"))
    with sqlite_server(directory, *extra, ca=directory / "tls" / "ca.pem") as server:
        yield server


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
