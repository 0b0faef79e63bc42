"""The pytest plugin, registered through the `pytest11` entry point: installing graphtasks is enough.

Fixtures:
    graphtasks     a handle (graphtasks.testing.Graphtasks) on a fresh tenant for each test, so tests
                   never see each other's tasks and nothing needs deleting; one server per session
    graph_client   graphtasks.graph_client(): the official SDK's client for that tenant

Options (command line, or the ini file without the leading dashes and with underscores):
    --graphtasks-mode inprocess|server   in this process (default), or `graphtasks serve` on a port
    --graphtasks-database URL            the server's database (default: memory; e.g. postgresql://...)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from graphtasks.config import MEMORY_DATABASE
from graphtasks.testing import Graphtasks

if TYPE_CHECKING:
    from msgraph_beta import GraphServiceClient

MODES = ("inprocess", "server")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("graphtasks")
    group.addoption(
        "--graphtasks-mode",
        choices=MODES,
        default=None,
        help="run the graphtasks fixture's server in this process (inprocess) or on a port (server)",
    )
    group.addoption(
        "--graphtasks-database", default=None, help="the graphtasks server's database URL (default: memory)"
    )
    parser.addini("graphtasks_mode", "inprocess or server", default="inprocess")
    parser.addini("graphtasks_database", "the graphtasks server's database URL", default=MEMORY_DATABASE)


def pytest_configure(config: pytest.Config) -> None:
    mode = _option(config, "mode")
    if mode not in MODES:
        raise pytest.UsageError(f"graphtasks_mode must be one of {', '.join(MODES)}, not {mode!r}")


def _option(config: pytest.Config, name: str) -> str:
    given = config.getoption(f"--graphtasks-{name}")
    return str(given if given is not None else config.getini(f"graphtasks_{name}"))


@pytest.fixture(scope="session")
def graphtasks_server(request: pytest.FixtureRequest) -> Iterator[Graphtasks]:
    """The session's server, as a handle on a tenant of its own (tests get their own: `graphtasks`)."""
    mode, database = _option(request.config, "mode"), _option(request.config, "database")
    handle = Graphtasks.serve(database=database) if mode == "server" else Graphtasks(database_url=database)
    with handle:
        yield handle


@pytest.fixture
def graphtasks(graphtasks_server: Graphtasks) -> Iterator[Graphtasks]:
    """A handle on a fresh tenant of the session's server."""
    with graphtasks_server.new_tenant() as handle:
        yield handle


@pytest.fixture
def graph_client(graphtasks: Graphtasks) -> GraphServiceClient:
    """The official SDK's GraphServiceClient for the test's tenant."""
    return graphtasks.graph_client()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"graphtasks: {_option(config, 'mode')}, database {_option(config, 'database')}"]
