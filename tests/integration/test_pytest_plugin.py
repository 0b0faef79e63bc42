"""The pytest plugin (docs/testing.md, "The pytest plugin") as a new project meets it: a directory of
tests with its own pytest.ini and no conftest, run by pytest in a process of its own, where installing
graphtasks is all it took. Its tests use the `graphtasks` and `graph_client` fixtures from a plain test,
from async tests under pytest-asyncio (auto mode) and anyio, and from asyncio.run in a sync test; two
more show each test gets a tenant of its own. It runs in process and on a server, on the memory
database and on PostgreSQL, with the options given on the command line or in the ini file, and in a
project whose warnings are errors, which a client left open would fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from graphtasks.storage.tables import tasks
from tests.support.databases import postgres_database

# The test environment's other pytest plugins, which a new project would not have, cost a second a run.
OTHER_PLUGINS = ("schemathesis", "hypothesispytest")
# Settings of the calling session that must not reach the new project's.
CALLER_SETTINGS = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")

PROJECT_TESTS = """
import asyncio
from urllib.parse import urlsplit

import pytest
from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask

MODE = "{mode}"
TASKS = "deviceAppManagement/deviceAppManagementTasks"


def create(graph_client, title):
    tasks = graph_client.device_app_management.device_app_management_tasks
    return tasks.post(SecurityConfigurationTask(display_name=title))


def titles(graphtasks):
    return [task["displayName"] for task in graphtasks.tasks()]


def task(title):
    return {{"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": title}}


def test_the_server_runs_where_the_options_say(graphtasks):
    on_a_port = urlsplit(graphtasks.url).hostname == "127.0.0.1"
    assert on_a_port == (MODE == "server")


def test_the_graphtasks_fixture_in_a_plain_test(graphtasks):
    with graphtasks.http() as http:
        assert http.post(TASKS, json=task("plain")).status_code == 201
    assert titles(graphtasks) == ["plain"]
    assert graphtasks.requests()[-1]["status"] == 201


async def test_graph_client_under_pytest_asyncio(graph_client, graphtasks):
    created = await create(graph_client, "pytest-asyncio")
    assert [task["id"] for task in graphtasks.tasks()] == [created.id]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_graph_client_under_anyio(graph_client, graphtasks):
    await create(graph_client, "anyio")
    assert titles(graphtasks) == ["anyio"]


def test_graph_client_from_asyncio_run_in_a_sync_test(graph_client, graphtasks):
    asyncio.run(create(graph_client, "asyncio.run"))
    assert titles(graphtasks) == ["asyncio.run"]


def test_a_tenant_before_the_one_with_a_task_is_empty(graphtasks):
    assert graphtasks.tasks() == []


def test_a_tenant_with_a_task(graphtasks):
    graphtasks.load([task("loaded")])
    assert titles(graphtasks) == ["loaded"]


def test_a_tenant_after_the_one_with_a_task_is_empty(graphtasks):
    assert graphtasks.tasks() == []
"""
PROJECT_PASSES = 8
STORED = {"plain", "pytest-asyncio", "anyio", "asyncio.run", "loaded"}


# A project that turns warnings into errors, as many do, bar the SDK's own (see tests/e2e/test_sdk.py).
WARNINGS_AS_ERRORS = [
    "filterwarnings =",
    "    error",
    "    ignore:GetQueryParameters is deprecated:DeprecationWarning",
    "    ignore:This class is deprecated:DeprecationWarning",
]


def write_project(
    directory: Path, mode: str, ini: dict[str, str], *, warnings_as_errors: bool = False
) -> None:
    lines = ["[pytest]", "asyncio_mode = auto", "asyncio_default_fixture_loop_scope = function"]
    lines += [f"graphtasks_{name} = {value}" for name, value in ini.items()]
    lines += WARNINGS_AS_ERRORS if warnings_as_errors else []
    (directory / "pytest.ini").write_text("\n".join(lines) + "\n", "utf-8")
    (directory / "test_with_graphtasks.py").write_text(PROJECT_TESTS.format(mode=mode), "utf-8")


def run_pytest(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    blocked = [option for plugin in OTHER_PLUGINS for option in ("-p", f"no:{plugin}")]
    own_ini = ["-c", str(directory / "pytest.ini"), "--rootdir", str(directory)]
    environment = {name: value for name, value in os.environ.items() if name not in CALLER_SETTINGS}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *blocked, *own_ini, *arguments],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@contextmanager
def database_url(database: str) -> Iterator[str | None]:
    """None for the memory database, the default; a fresh PostgreSQL database's URL otherwise."""
    if database == "memory":
        yield None
        return
    with postgres_database() as url:
        yield url


def stored_titles(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(tasks.c.display_name)))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("mode", "database", "given", "warnings_as_errors"),
    [
        pytest.param(
            "inprocess", "memory", "nowhere", True, id="inprocess-memory-by-default-warnings-as-errors"
        ),
        pytest.param("server", "memory", "command-line", True, id="server-memory-on-the-command-line"),
        pytest.param(
            "inprocess",
            "postgres",
            "command-line",
            False,
            marks=pytest.mark.postgres,
            id="inprocess-postgres",
        ),
        pytest.param(
            "server", "postgres", "ini", False, marks=pytest.mark.postgres, id="server-postgres-in-the-ini"
        ),
    ],
)
def test_a_new_project_uses_the_fixtures_with_no_conftest(
    tmp_path: Path, mode: str, database: str, given: str, warnings_as_errors: bool
) -> None:
    pytest.importorskip("pytest_asyncio")
    with database_url(database) as url:
        options = {"mode": mode} if mode != "inprocess" else {}
        if url is not None:
            options["database"] = url
        write_project(
            tmp_path, mode, options if given == "ini" else {}, warnings_as_errors=warnings_as_errors
        )
        arguments = [f"--graphtasks-{name}={value}" for name, value in options.items()]
        result = run_pytest(tmp_path, *(arguments if given == "command-line" else []))
        assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
        assert re.search(rf"\b{PROJECT_PASSES} passed\b", result.stdout), result.stdout
        if url is not None:
            assert stored_titles(url) == STORED


def test_an_unknown_mode_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    write_project(tmp_path, "bogus", {})
    result = run_pytest(tmp_path, "--graphtasks-mode", "bogus")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "argument --graphtasks-mode: invalid choice: 'bogus'" in result.stderr
    assert " passed" not in result.stdout
