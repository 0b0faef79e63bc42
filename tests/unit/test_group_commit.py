"""Group commit (storage/group_commit.py) on real SQLite files, the only backend it serves: concurrent
writes share transactions, each caller gets its own result or error, a unit's failure stays its own, a
failed COMMIT fails the whole group, and a lone write runs as it always did. Outages
(storage/outages.py) inside a group: a full disk gives every caller whose write it undid its own 503;
a unit cut off by the statement time limit is a 504 that leaves nothing of itself behind.

The units here write to small tables of their own; tests/integration runs the task store's writes
through group commit over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError

from graphtasks.errors import GatewayTimeout, NotFound, PreconditionFailed, ServiceUnavailable
from graphtasks.storage.engine import Database, open_database
from graphtasks.storage.group_commit import GroupCommitFailed, GroupCommitter
from tests.support.databases import database

BACKENDS = ["sqlite"]  # group commit is SQLite's only
WAIT_S = 20.0
TABLES = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, writer TEXT NOT NULL)",
    "CREATE TABLE parents (id INTEGER PRIMARY KEY)",
    # Checked at COMMIT, not at the INSERT: a real way to make a COMMIT fail.
    "CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
    "REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
)

Unit = Callable[[Connection], Any]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    """Flushing to disk, so a commit costs what group commit is there to share."""
    db = open_database(url, flush_to_disk=True)
    if db.dialect == "sqlite":
        # SQLite checks foreign keys only when asked, per connection and outside a transaction.
        event.listen(db.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=ON"))
    with db.write() as conn:
        for statement in TABLES:
            conn.exec_driver_sql(statement)
    try:
        yield db
    finally:
        db.dispose()


def committer(db: Database) -> GroupCommitter:
    assert db.group_committer is not None
    return db.group_committer


def insert_note(note_id: int, writer: str = "test") -> Unit:
    def unit(conn: Connection) -> int:
        conn.execute(
            text("INSERT INTO notes (id, writer) VALUES (:id, :writer)"), {"id": note_id, "writer": writer}
        )
        return note_id * 10

    return unit


def insert_then_raise(note_id: int, error: Exception) -> Unit:
    def unit(conn: Connection) -> None:
        insert_note(note_id)(conn)
        raise error

    return unit


def insert_orphan(conn: Connection) -> None:
    conn.exec_driver_sql("INSERT INTO children (id, parent_id) VALUES (1, 404)")


def rename_note(note_id: int, writer: str) -> Unit:
    def unit(conn: Connection) -> str:
        conn.execute(
            text("UPDATE notes SET writer = :writer WHERE id = :id"), {"id": note_id, "writer": writer}
        )
        return writer

    return unit


def notes(db: Database) -> dict[int, str]:
    with db.read() as conn:
        return {row.id: row.writer for row in conn.execute(text("SELECT id, writer FROM notes"))}


def record_statements(db: Database) -> list[str]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return statements


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def submit_as_one_group(db: Database, pool: ThreadPoolExecutor, units: list[Unit]) -> list[Future[Any]]:
    """Queue `units` while a gate unit holds the lead, then let the gate commit: the next leader takes
    every queued unit, so `units` run as one group, in this order."""
    entered, release = threading.Event(), threading.Event()

    def gate(_: Connection) -> None:
        entered.set()
        release.wait(WAIT_S)

    gated = pool.submit(db.run_write, gate)
    assert entered.wait(WAIT_S)
    futures: list[Future[Any]] = []
    for unit in units:
        futures.append(pool.submit(db.run_write, unit))
        wait_until(lambda: committer(db).queued == len(futures))  # keeps the queue in this order
    release.set()
    gated.result(WAIT_S)
    return futures


def outcome(future: Future[Any]) -> Any:
    return future.exception(WAIT_S) or future.result()


def test_concurrent_writers_all_commit_and_each_gets_its_own_result(db: Database) -> None:
    writers, writes = 32, 10
    start = threading.Barrier(writers)

    def write(writer: int) -> list[int]:
        start.wait()
        return [db.run_write(insert_note(writer * 1000 + i, f"w{writer}")) for i in range(writes)]

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write, range(writers)))

    assert results == [[(w * 1000 + i) * 10 for i in range(writes)] for w in range(writers)]
    assert notes(db) == {w * 1000 + i: f"w{w}" for w in range(writers) for i in range(writes)}
    assert committer(db).units == writers * writes


def test_groups_form_under_concurrency(db: Database) -> None:
    writers, writes = 32, 10
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        start.wait()
        for i in range(writes):
            db.run_write(insert_note(writer * 1000 + i))

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))

    assert committer(db).units == writers * writes
    assert committer(db).transactions < writers * writes


def test_a_failing_unit_rolls_back_alone_and_its_caller_gets_its_error(db: Database) -> None:
    missing, refused = NotFound("no such task"), PreconditionFailed("stale ETag")
    units = [
        insert_note(1),
        insert_then_raise(2, missing),
        insert_note(3),
        insert_note(1),  # the same key as the first unit: an IntegrityError
        insert_then_raise(4, refused),
        insert_note(5),
    ]
    before = committer(db).transactions
    with ThreadPoolExecutor(len(units) + 1) as pool:
        results = [outcome(future) for future in submit_as_one_group(db, pool, units)]

    assert results[0] == 10
    assert results[1] is missing
    assert results[2] == 30
    assert isinstance(results[3], IntegrityError)
    assert results[4] is refused
    assert results[5] == 50
    assert notes(db) == {1: "test", 3: "test", 5: "test"}
    assert committer(db).transactions == before + 2  # the gate's, then the group's


def test_a_failed_commit_fails_every_write_of_the_group(db: Database) -> None:
    missing = NotFound("no such task")
    units = [insert_note(1), insert_orphan, insert_note(2), insert_then_raise(3, missing)]
    with ThreadPoolExecutor(len(units) + 1) as pool:
        results = [outcome(future) for future in submit_as_one_group(db, pool, units)]

    for failed in (results[0], results[1], results[2]):
        assert isinstance(failed, GroupCommitFailed)
        assert isinstance(failed.__cause__, IntegrityError)
    assert len({id(failed) for failed in results[:3]}) == 3  # one exception per caller
    assert results[3] is missing
    assert notes(db) == {}
    # Nothing of the failed transaction is left behind on the pooled connections.
    assert [db.run_write(insert_note(i)) for i in (6, 7)] == [60, 70]
    assert notes(db) == {6: "test", 7: "test"}


def test_a_lone_write_runs_at_once_on_its_own_thread_as_a_plain_transaction(url: str) -> None:
    grouped, plain = open_database(url), open_database(url, group_commit=False)
    try:
        with grouped.write() as conn:
            conn.exec_driver_sql(TABLES[0])
        statements = {id(grouped): record_statements(grouped), id(plain): record_statements(plain)}
        caller = threading.get_ident()
        assert grouped.run_write(lambda _: threading.get_ident()) == caller
        assert grouped.run_write(insert_note(1)) == 10
        assert plain.run_write(insert_note(2)) == 20
        assert plain.group_committer is None
        # The same statements (no SAVEPOINT, no lock_timeout): a group of one is the old transaction.
        assert statements[id(grouped)][-len(statements[id(plain)]) :] == statements[id(plain)]
        assert not any("SAVEPOINT" in s or "lock_timeout" in s for s in statements[id(grouped)])
        assert committer(grouped).transactions == 2
    finally:
        grouped.dispose()
        plain.dispose()


def test_a_nested_write_raises_instead_of_waiting_for_itself(db: Database) -> None:
    with pytest.raises(RuntimeError, match="must not start another write"):
        db.run_write(lambda _: db.run_write(insert_note(1)))
    assert db.run_write(insert_note(2)) == 20


def test_a_full_sqlite_disk_in_a_group_is_a_503_for_each_write_it_undid(tmp_path: Path) -> None:
    """SQLite undoes the statement, or the whole transaction (then the savepoint cannot be rolled back
    and the group fails): either way a caller gets its value only if its note is stored, and a 503
    otherwise."""
    with database("sqlite", tmp_path) as url:
        db = open_database(url)
    limit = {"pages": 1_073_741_823}
    event.listen(
        db.engine, "checkout", lambda dbapi, *_: dbapi.execute(f"PRAGMA max_page_count = {limit['pages']}")
    )
    try:
        with db.write() as conn:
            conn.exec_driver_sql(TABLES[0])
        limit["pages"] = 1  # never below the current size: the next new page is a full disk
        units = [insert_note(1), insert_note(2, "x" * 200_000), insert_note(3)]
        with ThreadPoolExecutor(len(units) + 1) as pool:
            results = [outcome(future) for future in submit_as_one_group(db, pool, units)]
        assert isinstance(results[1], ServiceUnavailable)
        stored = notes(db)
        for note_id, result in zip((1, 2, 3), results, strict=True):
            assert result == note_id * 10 if note_id in stored else isinstance(result, ServiceUnavailable)
        assert len({id(result) for result in results}) == 3  # one exception per caller
    finally:
        db.dispose()


def insert_for_ever(conn: Connection) -> None:
    """A write that would run for minutes: a recursive count to 10^9, inserted as it goes."""
    conn.exec_driver_sql(
        "INSERT INTO notes (id, writer) WITH RECURSIVE n(i) AS "
        "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) SELECT i + 100, 'slow' FROM n"
    )


def test_a_unit_cut_off_by_the_time_limit_is_a_504_and_nothing_half_done_commits(db: Database) -> None:
    """PostgreSQL rolls the unit back to its savepoint and the others commit; SQLite rolls back the whole
    transaction (an interrupted write's rule), so every caller of the group gets the 504. Either way a
    caller gets its value only if its note is stored, and no note of the cut-off write is."""
    db.limit_statements(0.3)
    units = [insert_note(1), insert_for_ever, insert_note(3)]
    with ThreadPoolExecutor(len(units) + 1) as pool:
        results = [outcome(future) for future in submit_as_one_group(db, pool, units)]
    assert isinstance(results[1], GatewayTimeout)
    stored = notes(db)
    assert stored == ({} if db.dialect == "sqlite" else {1: "test", 3: "test"})
    for note_id, result in zip((1, 3), results[::2], strict=True):
        assert result == note_id * 10 if note_id in stored else isinstance(result, GatewayTimeout)
    assert len({id(result) for result in results}) == 3  # one exception per caller
