"""Unexpected errors in the log (web/error_log.py, ErrorLog): one traceback per error site, then a count
at most once per interval, and never the SQL, its parameters or a tenant's data, however many 500s a
client provokes. The NUL that used to make PostgreSQL fail with such a line is a 400 on both backends.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, Settings
from graphtasks.model.records import StoredDocument, TaskRecord
from graphtasks.storage.base import Page, PageSink, TaskQuery
from graphtasks.storage.sql import SqlTaskStore
from graphtasks.web.error_log import ErrorLog
from tests.support.server import TASKS_PATH, Server


@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: what it writes to its log is the point."""
    return real_server


# What a failing statement carries into SQLAlchemy's exception text: the statement, and parameters with
# the tenant and a value the client sent. None of it may reach the log.
SECRET = "client-value-7f3a9c"
FAILING_SQL = text(
    "SELECT display_name FROM no_such_table WHERE tenant_id = :tenant AND display_name = :name"
)
ERRORS = 300


class FailingStore(SqlTaskStore):
    """The real store, but listing and creating run a statement the database refuses."""

    def query_documents(self, query: TaskQuery, sink: PageSink[StoredDocument]) -> Page[StoredDocument]:
        fail({"tenant": query.tenant_id, "name": SECRET})
        raise AssertionError("unreachable")

    def create(self, tenant_id: str, task: TaskRecord) -> StoredDocument:
        fail({"tenant": tenant_id, "name": SECRET})
        raise AssertionError("unreachable")


def fail(parameters: dict[str, str]) -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.execute(FAILING_SQL, parameters)
    finally:
        engine.dispose()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    real = open_backend(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    yield Backend(real.database, FailingStore(real.database), real.keys, real.apps, real.tenants)
    real.database.dispose()


def provoke(backend: Backend, tenant: str, requests: list[tuple[str, object]]) -> list[int]:
    """Sends each (method, body) to the tasks collection as `tenant`; their statuses."""
    app = create_app(Settings(request_log=False), backend=backend)
    token = issue_token(
        backend.keys,
        TokenRequest(tenant, roles=("DeviceManagementApps.ReadWrite.All",)),
        issuer_base=DEFAULT_ISSUER,
    )

    async def send() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8000", headers=headers
        ) as client:
            answers = [await client.request(method, TASKS_PATH, json=body) for method, body in requests]
        return [answer.status_code for answer in answers]

    return asyncio.run(send())


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "graphtasks" and r.levelno >= logging.ERROR]


def test_many_500s_at_one_site_log_one_traceback_without_sql_or_data(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = str(uuid.uuid4())
    assert provoke(backend, tenant, [("GET", None)] * ERRORS) == [500] * ERRORS
    lines = error_lines(caplog)
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith("unhandled sqlalchemy.exc.OperationalError in GET request ")
    assert "Traceback (most recent call last):" in line
    assert "sqlite3.OperationalError (SQLITE_ERROR): message not logged" in line
    leaked = [word for word in (tenant, SECRET, "no_such_table", "[SQL:", "[parameters:") if word in line]
    assert leaked == []


def test_each_error_site_gets_its_own_traceback(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    body = {"displayName": "x"}
    statuses = provoke(backend, str(uuid.uuid4()), [("GET", None), ("POST", body)] * 20)
    assert statuses == [500] * 40
    lines = error_lines(caplog)
    assert [line.split(" request ")[0] for line in lines] == [
        "unhandled sqlalchemy.exc.OperationalError in GET",
        "unhandled sqlalchemy.exc.OperationalError in POST",
    ]
    assert len({line.split("(error site ")[1][:8] for line in lines}) == 2


# --- the count lines, on a clock the test moves ---


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# An exception message as data would make one: it must not reach the log.
DATA = "tenant data"


def at_site_a() -> None:
    raise KeyError(DATA)


def at_site_b() -> None:
    raise ValueError(DATA)


def raised(site: Callable[[], None]) -> BaseException:
    try:
        site()
    except Exception as error:
        return error
    raise AssertionError("the site did not raise")


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        pytest.param([0], ["traceback"], id="first"),
        pytest.param([0, 1, 2, 59.9], ["traceback"], id="repeats within the interval are only counted"),
        pytest.param([0, 1, 2, 60], ["traceback", "3 more in the last 60 s"], id="a count once it is due"),
        pytest.param(
            [0, 10, 60, 61, 119, 130, 500],
            ["traceback", "2 more in the last 60 s", "3 more in the last 70 s", "1 more in the last 370 s"],
            id="at most one count line per interval",
        ),
    ],
)
def test_repeats_are_counted_at_most_once_per_interval(
    times: list[float], expected: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    log = ErrorLog(interval_s=60.0, clock=clock)
    start = clock.now
    for offset in times:
        clock.now = start + offset
        log.record(raised(at_site_a), method="GET", request_id="r")
    found = [
        "traceback" if "Traceback" in line else line.split(": ")[1].split(" (latest")[0]
        for line in error_lines(caplog)
    ]
    assert found == expected
    assert DATA not in caplog.text


def test_sites_past_the_limit_share_one_entry(caplog: pytest.LogCaptureFixture) -> None:
    log = ErrorLog(max_sites=1, clock=Clock())
    for site in (at_site_a, at_site_b, at_site_a, at_site_b, at_site_b):
        log.record(raised(site), method="GET", request_id="r")
    lines = error_lines(caplog)
    assert [line.split(" in GET")[0] for line in lines] == ["unhandled KeyError", "unhandled ValueError"]
    assert len({line.split("(error site ")[1][:8] for line in lines}) == 2


def test_a_cause_is_shown_by_type_and_sqlstate_only(caplog: pytest.LogCaptureFixture) -> None:
    class FakeDriverError(Exception):
        sqlstate = "22P05"

    try:
        try:
            raise FakeDriverError(DATA)
        except FakeDriverError as cause:
            raise RuntimeError(DATA) from cause
    except RuntimeError as error:
        ErrorLog().record(error, method="PATCH", request_id="r")
    (line,) = error_lines(caplog)
    assert "FakeDriverError (22P05): message not logged\nwhich led to\nTraceback" in line
    assert line.endswith("RuntimeError: message not logged")
    assert DATA not in line


# --- the probe's request, on both backends ---

NUL_REQUESTS = [
    {"$filter": "displayName eq 'a\x00b'"},
    {"$filter": "contains(displayName, '\x00')"},
    {"$filter": "id in ('\x00')"},
]


@pytest.mark.parametrize("params", NUL_REQUESTS)
def test_a_nul_in_a_filter_is_a_400_on_every_backend_and_logs_nothing(
    server: Server, client: httpx.Client, params: dict[str, str]
) -> None:
    response = client.get(TASKS_PATH, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"].endswith("contains the character U+0000, which is not allowed.")
    assert "unhandled" not in server.log_path.read_text(errors="replace")
