"""Bounded storage work on real servers, SQLite and PostgreSQL (docs/resilience.md, "Query time" and
"Storage threads per tenant"): a query past --query-timeout is a Graph 504 within about that time, a
tenant past --tenant-concurrency waits its turn while other tenants are served, a client that leaves
has its query stopped, a write cut off by the limit leaves nothing behind, and a database error's text
never carries the values bound to its statement.

The slow query is a lambda filter over tasks whose intendedSettings hold 100,000 items each (written
straight into the database): unbounded, it takes several seconds on either backend.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, literal, select, text

from graphtasks.app import open_backend
from graphtasks.config import Settings
from graphtasks.errors import BadRequest, GatewayTimeout
from graphtasks.model.records import TaskRecord
from graphtasks.model.validation import validate_create
from graphtasks.storage.engine import Database, open_database
from tests.integration.test_errors import assert_graph_error
from tests.support.databases import POSTGRES_ADMIN_URL, database
from tests.support.server import TASKS_PATH, Server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SECURITY_TASK = "#microsoft.graph.securityConfigurationTask"
SETTINGS = 100_000
# Tasks of SETTINGS items each, enough that the slow query runs for several seconds on an idle machine:
# PostgreSQL goes through four tasks' settings in under a second.
SLOW_TASKS = {"sqlite": 4, "postgres": 16}
SLOW_FILTER = (
    "microsoft.graph.securityConfigurationTask/intendedSettings/any(s: contains(tolower(s/name),'zz') "
    "or contains(tolower(s/value),'zz') or contains(toupper(s/name),'QQ') or endswith(tolower(s/value),'qq'))"
)
# A recursive count to 10^9, for minutes on either backend, written as it goes.
SLOW_INSERT = (
    "INSERT INTO notes WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT i + 1, 'more' FROM n"
)
TIMED_OUT = "The request took longer than the service allows and was stopped; nothing was changed."
# What a machine running other tests may add to an answer that should come at once.
SLACK_S = 1.0


@dataclass(frozen=True)
class Prepared:
    """A database where `slow_tenant` has `slow_tasks` tasks with SETTINGS intendedSettings each."""

    backend: str
    url: str
    directory: Path
    slow_tenant: str
    slow_tasks: int


@pytest.fixture(scope="module", params=BACKENDS)
def prepared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    directory = tmp_path_factory.mktemp(f"limits-{request.param}")
    with database(request.param, directory) as url:
        slow_tenant = str(uuid.uuid4())
        backend = open_backend(Settings(database_url=url))
        entity_type, values = validate_create({"@odata.type": SECURITY_TASK, "displayName": "large"})
        for _ in range(SLOW_TASKS[request.param]):
            record = TaskRecord(str(uuid.uuid4()), entity_type, {**values, "createdDateTime": 0})
            backend.store.create(slow_tenant, record)
        backend.database.dispose()
        fill_settings(url, slow_tenant)
        yield Prepared(request.param, url, directory, slow_tenant, SLOW_TASKS[request.param])


# The limit of the `limited` server: long enough that a request waiting behind a whole query is told
# from one slowed by a busy machine.
LIMIT_S = 1.0


@pytest.fixture(scope="module")
def limited(prepared: Prepared) -> Iterator[Server]:
    """A server that stops a query after LIMIT_S and gives a tenant one storage thread."""
    with serving(prepared, "--query-timeout", str(LIMIT_S), "--tenant-concurrency", "1") as server:
        yield server


# Each task's intendedSettings: SETTINGS items {"name": "setting<i>", "value": "value<i>"}.
FILL = {
    "postgresql": "UPDATE tasks SET intended_settings = (SELECT jsonb_agg(jsonb_build_object("
    "'name', 'setting' || i, 'value', 'value' || i)) FROM generate_series(1, :n) i) WHERE tenant_id = :t",
    "sqlite": "UPDATE tasks SET intended_settings = (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
    "SELECT i + 1 FROM n WHERE i < :n) SELECT json_group_array(json_object("
    "'name', 'setting' || i, 'value', 'value' || i)) FROM n) WHERE tenant_id = :t",
}


def fill_settings(url: str, tenant: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(FILL[engine.dialect.name]), {"n": SETTINGS, "t": tenant})
    engine.dispose()


@contextmanager
def serving(prepared: Prepared, *flags: str) -> Iterator[Server]:
    log = prepared.directory / f"server-{uuid.uuid4().hex[:6]}.log"
    server = Server(prepared.url, log, extra_args=flags).start()
    try:
        yield server
    finally:
        server.stop()


def slow_client(server: Server, prepared: Prepared, *, timeout_s: float = 60.0) -> httpx.Client:
    client = server.client(server.token(tenant=prepared.slow_tenant))
    client.timeout = httpx.Timeout(timeout_s)
    return client


def timed(client: httpx.Client, path: str, **params: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.get(path, params=params)
    return answer, time.monotonic() - started


@pytest.mark.parametrize("path", [TASKS_PATH, f"{TASKS_PATH}/$count"], ids=["list", "count"])
def test_a_query_past_the_limit_is_a_graph_504_within_about_the_limit(
    prepared: Prepared, limited: Server, path: str
) -> None:
    with slow_client(limited, prepared) as client:
        answer, elapsed = timed(client, path, **{"$filter": SLOW_FILTER})
        assert_graph_error(answer, 504, "GatewayTimeout", TIMED_OUT)
        assert "retry-after" not in answer.headers  # the SDK's own backoff
        assert elapsed < LIMIT_S + SLACK_S
        # Nothing is left behind: the same tenant's next query is answered.
        assert client.get(f"{TASKS_PATH}/$count").text == str(prepared.slow_tasks)


def test_a_tenant_past_its_allowance_waits_its_turn_while_another_is_served(
    prepared: Prepared, limited: Server
) -> None:
    with limited.client(limited.token(tenant=str(uuid.uuid4()))) as other:
        answers: list[tuple[int, float]] = []
        started = time.monotonic()

        def slow_query() -> None:
            with slow_client(limited, prepared) as client:
                answer, _ = timed(client, TASKS_PATH, **{"$filter": SLOW_FILTER})
                answers.append((answer.status_code, time.monotonic() - started))

        threads = [threading.Thread(target=slow_query) for _ in range(3)]
        for thread in threads:
            thread.start()
        waits = [timed(other, f"{TASKS_PATH}/$count")[1] for _ in range(5)]
        for thread in threads:
            thread.join()

    assert [status for status, _ in answers] == [504, 504, 504]
    # One at a time: the last query started only once the two others had had their time.
    assert max(at for _, at in answers) >= 2.5 * LIMIT_S
    # Behind the slow tenant's queue, the other would have waited a whole query at least.
    assert max(waits) < 0.9 * LIMIT_S, waits


# A left client's query is stopped within this; it would otherwise hold the tenant's thread for 30 s.
LEFT_SLACK_S = 5.0


def test_a_client_that_leaves_has_its_query_stopped(prepared: Prepared) -> None:
    flags = ("--query-timeout", "30", "--tenant-concurrency", "1")
    with serving(prepared, *flags) as server:
        with slow_client(server, prepared, timeout_s=0.5) as leaving, pytest.raises(httpx.ReadTimeout):
            leaving.get(TASKS_PATH, params={"$filter": SLOW_FILTER})
        left_at = time.monotonic()
        if prepared.backend == "postgres":
            assert wait_for_no_statement(prepared.url, within_s=LEFT_SLACK_S)
        # The tenant's only thread is free again: its next request is answered at once.
        with slow_client(server, prepared) as client:
            assert client.get(f"{TASKS_PATH}/$count").text == str(prepared.slow_tasks)
        assert time.monotonic() - left_at < LEFT_SLACK_S


def wait_for_no_statement(url: str, *, within_s: float) -> bool:
    """True once no statement runs on `url`'s database (watched from the maintenance database)."""
    name = url.rsplit("/", 1)[1]
    # Autocommit: PostgreSQL keeps one snapshot of pg_stat_activity for a whole transaction, so a loop
    # inside one would see the first answer forever.
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + within_s
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND state = 'active'")
    try:
        with admin.connect() as conn:
            while conn.execute(query, {"name": name}).scalar_one() > 0:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        return True
    finally:
        admin.dispose()


# PostgreSQL only: SQLite's writers wait for the database's one lock, in busy_timeout, not for a row's.
@pytest.mark.parametrize("prepared", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_write_waiting_past_the_limit_is_a_504_and_changes_nothing(
    prepared: Prepared, limited: Server
) -> None:
    """A PATCH queued behind another connection's row lock: statement_timeout ends its wait, its
    transaction is rolled back, and the lock's release later changes nothing."""
    with slow_client(limited, prepared) as client:
        created = client.post(TASKS_PATH, json={"displayName": "before", "status": "pending"}).json()
        engine = create_engine(prepared.url)
        with engine.connect() as locker:
            locker.execute(text("SELECT 1 FROM tasks WHERE id = :id FOR UPDATE"), {"id": created["id"]})
            answer = client.patch(f"{TASKS_PATH}/{created['id']}", json={"displayName": "after"})
            locker.rollback()
        engine.dispose()
        assert_graph_error(answer, 504, "GatewayTimeout", TIMED_OUT)
        assert client.get(f"{TASKS_PATH}/{created['id']}").json()["displayName"] == "before"
        client.delete(f"{TASKS_PATH}/{created['id']}")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database(request.param, tmp_path) as url:
        opened = open_database(url)
        with opened.write() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        yield opened
        opened.dispose()


def test_a_database_error_names_its_statement_never_its_values(db: Database) -> None:
    with pytest.raises(Exception) as raised, db.read() as conn:
        conn.execute(text("SELECT no_such_column FROM notes WHERE body = :body"), {"body": "tenant-secret"})
    assert "no_such_column" in str(raised.value)
    assert "tenant-secret" not in str(raised.value)


def test_a_write_cut_off_by_the_limit_is_a_504_and_leaves_nothing(db: Database) -> None:
    db.limit_statements(0.2)

    def unit(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO notes VALUES (1, 'first')")
        conn.exec_driver_sql(SLOW_INSERT)

    started = time.monotonic()
    with pytest.raises(GatewayTimeout) as raised:
        db.run_write(unit)
    assert time.monotonic() - started < 0.2 + SLACK_S
    assert (raised.value.status, raised.value.message) == (504, TIMED_OUT)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar_one() == 0


@pytest.mark.postgres
def test_text_postgresql_cannot_store_is_a_400_never_a_500(tmp_path: Path) -> None:
    with database("postgres", tmp_path) as url:
        db = open_database(url)
        try:
            with pytest.raises(BadRequest) as raised, db.read() as conn:
                conn.execute(select(literal("a\x00b")))
            assert raised.value.status == 400
        finally:
            db.dispose()
