"""storage/outages.py: which database errors are a 503 (nothing was written), which leave the outcome
unknown (500), which are a statement stopped at its time limit (504) or text PostgreSQL refuses (400),
which are no outage at all; and a full SQLite disk through Database for real (PRAGMA max_page_count),
on the store and through the whole application.

PostgreSQL's lost connections on a real server are in test_engine_reads.py (reads, writes, COMMIT)
and test_group_commit.py (shared transactions); the outage of a whole server in
tests/integration/test_database_outage.py; real statements cut off by the time limit in
tests/integration/test_query_limits.py.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg.errors as pg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT, Settings
from graphtasks.errors import BadRequest, GatewayTimeout, NotFound, ServiceUnavailable
from graphtasks.storage.engine import Database, open_database
from graphtasks.storage.group_commit import GroupCommitFailed
from graphtasks.storage.outages import (
    RETRY_AFTER_S,
    CommitOutcomeUnknown,
    Interrupted,
    Interruption,
    Outages,
)
from tests.support.examples import FOUNDING_REQUEST
from tests.support.server import TASKS_PATH

UNAVAILABLE, UNKNOWN, AS_IS = "503", "unknown (500)", "as it was"
TIMED_OUT, REFUSED = "504", "400"


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def wrapped(orig: Exception, *, invalidated: bool = False) -> DBAPIError:
    kind = IntegrityError if isinstance(orig, pg.IntegrityError) else OperationalError
    return kind("SQL", {}, orig, connection_invalidated=invalidated)


def chained(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


FULL = sqlite_error("database or disk is full", 13)
# psycopg refuses a NUL in a text parameter before sending anything (no SQLSTATE).
PSYCOPG_NUL = "PostgreSQL text fields cannot contain NUL (0x00) bytes"
PG_LOST = psycopg.OperationalError("server closed the connection unexpectedly")
SAVEPOINT_GONE = chained(wrapped(sqlite_error("no such savepoint", 1)), wrapped(FULL))
SAVEPOINT_INTERRUPTED = chained(
    wrapped(sqlite_error("no such savepoint", 1)), wrapped(sqlite_error("interrupted", 9))
)
# (error, answer if it struck a statement, answer if it struck COMMIT)
CASES: list[tuple[str, BaseException, str, str]] = [
    ("pg fast shutdown", wrapped(pg.AdminShutdown("terminating connection")), UNAVAILABLE, UNKNOWN),
    ("pg crash", wrapped(pg.CrashShutdown("crash of another server process")), UNAVAILABLE, UNKNOWN),
    ("pg starting", wrapped(pg.CannotConnectNow("the database system is starting up")), UNAVAILABLE, UNKNOWN),
    ("pg lost", wrapped(PG_LOST, invalidated=True), UNAVAILABLE, UNKNOWN),
    ("pg class 08", wrapped(pg.ConnectionFailure("connection failure")), UNAVAILABLE, UNKNOWN),
    ("pg disk full", wrapped(pg.DiskFull("could not extend file")), UNAVAILABLE, UNAVAILABLE),
    ("pg out of memory", wrapped(pg.OutOfMemory("out of memory")), UNAVAILABLE, UNAVAILABLE),
    ("pg unique", wrapped(pg.UniqueViolation("duplicate key")), AS_IS, AS_IS),
    ("pg deferred fk", wrapped(pg.ForeignKeyViolation("violates foreign key")), AS_IS, AS_IS),
    # statement_timeout, or a cancel request; PostgreSQL disarms the timeout before committing, so a
    # COMMIT that gets one was rolled back.
    ("pg timeout", wrapped(pg.QueryCanceled("statement timeout")), TIMED_OUT, TIMED_OUT),
    ("pg nul refused", wrapped(psycopg.DataError(PSYCOPG_NUL)), REFUSED, AS_IS),
    ("pg nul in jsonb", wrapped(pg.UntranslatableCharacter("unsupported escape")), REFUSED, AS_IS),
    ("pg other data error", wrapped(pg.NumericValueOutOfRange("out of range")), AS_IS, AS_IS),
    ("sqlite full", wrapped(FULL), UNAVAILABLE, UNAVAILABLE),
    ("sqlite busy", wrapped(sqlite_error("database is locked", 5)), UNAVAILABLE, UNKNOWN),
    ("sqlite cantopen", wrapped(sqlite_error("unable to open database file", 14)), UNAVAILABLE, UNKNOWN),
    ("sqlite ioerr write", wrapped(sqlite_error("disk I/O error", 778)), AS_IS, AS_IS),
    ("sqlite constraint", wrapped(sqlite_error("UNIQUE constraint failed", 2067)), AS_IS, AS_IS),
    ("sqlite interrupted", wrapped(sqlite_error("interrupted", 9)), TIMED_OUT, TIMED_OUT),
    # A write interrupted in a group: SQLite rolled the whole transaction back, savepoint included.
    ("savepoint gone with an interrupt", SAVEPOINT_INTERRUPTED, TIMED_OUT, TIMED_OUT),
    # A savepoint that could not be rolled back because the unit's full disk took the transaction.
    ("no such savepoint", SAVEPOINT_GONE, UNAVAILABLE, UNAVAILABLE),
    ("not found", NotFound("no such task"), AS_IS, AS_IS),
    ("a bug", ValueError("bug"), AS_IS, AS_IS),
]  # fmt: skip


def answer(outcome: BaseException, error: BaseException) -> str:
    if outcome is error:
        return AS_IS
    if isinstance(outcome, GatewayTimeout | BadRequest):
        assert outcome.headers == {}  # no Retry-After: the SDK's own backoff for a 504
        return str(outcome.status)
    if isinstance(outcome, ServiceUnavailable):
        assert outcome.headers == {"Retry-After": str(RETRY_AFTER_S)}
        assert outcome.status == 503
        return UNAVAILABLE
    assert isinstance(outcome, CommitOutcomeUnknown)
    assert outcome.__cause__ is error
    return UNKNOWN


@pytest.mark.parametrize(("case", "error", "statement", "commit"), CASES, ids=[case[0] for case in CASES])
def test_what_a_database_error_becomes(case: str, error: BaseException, statement: str, commit: str) -> None:
    outages = Outages()
    assert answer(outages.on_statement(error), error) == statement
    assert answer(outages.on_commit(error), error) == commit


@pytest.mark.parametrize(
    "error",
    [
        wrapped(psycopg.OperationalError("connection failed: Connection refused")),
        wrapped(pg.InvalidPassword("password authentication failed")),
        PoolTimeout("QueuePool limit of size 20 overflow 0 reached"),
    ],
)
def test_no_connection_is_a_503(error: Exception) -> None:
    assert isinstance(Outages().on_connect(error), ServiceUnavailable)


def test_the_answers_of_a_failed_shared_transaction_are_one_per_caller() -> None:
    outages = Outages()
    timeout = wrapped(pg.QueryCanceled("statement timeout"))
    for cause in (
        outages.on_commit(wrapped(FULL)),
        outages.on_commit(CASES[0][1]),
        outages.on_statement(timeout),
    ):
        failed = GroupCommitFailed("the write's shared transaction failed")
        failed.__cause__ = cause
        first, second = outages.for_caller(failed), outages.for_caller(failed)
        assert type(first) is type(second) is type(cause)
        assert first is not second and first is not cause
    plain = GroupCommitFailed("a deferred constraint")
    plain.__cause__ = CASES[8][1]
    assert outages.for_caller(plain) is plain


# --- a full SQLite disk, for real ---


class DiskLimit:
    """PRAGMA max_page_count on every connection the pool hands out: None is no limit, 1 is "the
    database's current size" (SQLite never sets it below that), so the next new page is a full disk."""

    def __init__(self, database: Database) -> None:
        self.pages: int | None = None
        event.listen(database.engine, "checkout", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {self.pages or 1_073_741_823}")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'full.db'}")
    with database.write() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    yield database
    database.dispose()


def insert(note_id: int, size: int = 10) -> Any:
    def unit(conn: Any) -> int:
        conn.execute(text("INSERT INTO notes VALUES (:id, :body)"), {"id": note_id, "body": "x" * size})
        return note_id

    return unit


def note_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return [row.id for row in conn.execute(text("SELECT id FROM notes ORDER BY id"))]


def test_a_full_sqlite_disk_refuses_writes_with_a_503_keeps_reads_and_recovers(db: Database) -> None:
    limit = DiskLimit(db)
    assert db.run_write(insert(1)) == 1
    limit.pages = 1
    with pytest.raises(ServiceUnavailable) as refused:
        db.run_write(insert(2, size=200_000))
    assert refused.value.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert isinstance(refused.value.__cause__, OperationalError)
    with pytest.raises(ServiceUnavailable), db.write() as conn:  # the registry's way in, too
        insert(3, size=200_000)(conn)
    assert note_ids(db) == [1]  # reads go on; nothing of the refused writes is there
    limit.pages = None
    assert db.run_write(insert(2, size=200_000)) == 2
    assert note_ids(db) == [1, 2]


@pytest.fixture
def full_backend(tmp_path: Path) -> Iterator[tuple[Backend, DiskLimit]]:
    backend = open_backend(Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}"))
    yield backend, DiskLimit(backend.database)
    backend.database.dispose()


def test_the_application_answers_a_full_disk_with_a_graph_503_and_keeps_serving_reads(
    full_backend: tuple[Backend, DiskLimit],
) -> None:
    backend, limit = full_backend
    app = create_app(Settings(allowed_hosts=("graphtasks.test",)), backend=backend)
    request = TokenRequest(DEFAULT_TENANT, roles=("DeviceManagementApps.ReadWrite.All",))
    headers = {"Authorization": f"Bearer {issue_token(backend.keys, request, issuer_base=DEFAULT_ISSUER)}"}
    big = {**FOUNDING_REQUEST, "description": "x" * 300_000}

    async def session() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://graphtasks.test") as client:
            created = await client.post(TASKS_PATH, json=FOUNDING_REQUEST, headers=headers)
            limit.pages = 1
            refused = await client.post(TASKS_PATH, json=big, headers=headers)
            listed = await client.get(TASKS_PATH, headers=headers)
            limit.pages = None
            again = await client.post(TASKS_PATH, json=big, headers=headers)
            return [created, refused, listed, again]

    created, refused, listed, again = asyncio.run(session())
    assert created.status_code == 201
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, str(RETRY_AFTER_S))
    assert refused.json()["error"]["code"] == "ServiceUnavailable"
    assert listed.status_code == 200
    assert [task["id"] for task in listed.json()["value"]] == [created.json()["id"]]
    assert again.status_code == 201


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (mounting needs root; max_page_count above covers the rest)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:  # ENOSPC: the disk is full
        return filler
    finally:
        os.close(descriptor)


def test_a_real_full_disk_fails_the_commit_with_a_503_and_writes_work_once_space_is_freed(
    small_disk: Path,
) -> None:
    """A real ENOSPC strikes where max_page_count does not: at COMMIT, appending to the WAL."""
    db = open_database(f"sqlite:///{small_disk / 'tasks.db'}")
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        filler = fill(small_disk)
        with pytest.raises(ServiceUnavailable) as refused:
            db.run_write(insert(1, size=2000))
        assert "COMMIT" in str(refused.value.__cause__)
        assert note_ids(db) == []
        filler.unlink()
        assert db.run_write(insert(1, size=2000)) == 1
        assert note_ids(db) == [1]
    finally:
        db.dispose()


# --- Interruption: a statement sent just after the cancel ---


def test_an_interrupt_that_found_nothing_running_is_sent_again_while_the_read_goes_on() -> None:
    interruption = Interruption()
    sent: list[float] = []
    interruption.lend(lambda: sent.append(time.monotonic()))
    # The first interrupt reaches a connection whose statement has not started; the read is still lent.
    requester = threading.Thread(target=interruption.request, kwargs={"repeat_s": 0.01, "repeat_for_s": 5.0})
    requester.start()
    while len(sent) < 3:
        time.sleep(0.005)
    interruption.take_back()  # the read ends: no more interrupts
    requester.join(timeout=5)
    assert not requester.is_alive()
    count = len(sent)
    time.sleep(0.05)
    assert len(sent) == count
    with pytest.raises(Interrupted):
        interruption.lend(lambda: None)


def test_an_interrupt_with_no_read_running_returns_at_once() -> None:
    interruption = Interruption()
    started = time.monotonic()
    interruption.request(repeat_s=0.01, repeat_for_s=5.0)
    assert time.monotonic() - started < 1.0
