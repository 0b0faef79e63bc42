"""Database on PostgreSQL: autocommit on the driver for a read, transactions again after it; a
connection lost during a read or a write reported as the database being away (a 503, not hidden behind
the autocommit reset), one lost while COMMIT was in flight as an unknown outcome; a connection that died
idle in the pool replaced before anyone uses it; an unreachable server refused at once."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from graphtasks.errors import ServiceUnavailable
from graphtasks.storage.engine import Database, open_database
from graphtasks.storage.outages import CommitOutcomeUnknown
from tests.support.databases import postgres_database
from tests.support.server import free_port

pytestmark = pytest.mark.postgres


@pytest.fixture
def db() -> Iterator[Database]:
    with postgres_database() as url:
        database = open_database(url)
        yield database
        database.dispose()


def test_a_read_sends_no_transaction_and_leaves_the_connection_transactional(db: Database) -> None:
    with db.read() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        assert driver.autocommit is True
        # In autocommit no transaction is open around the statement.
        assert conn.exec_driver_sql("SELECT now() = statement_timestamp()").scalar_one() is True
    assert driver.autocommit is False
    with db.write() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


@pytest.fixture
def admin(db: Database) -> Iterator[Engine]:
    engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def terminate(admin: Engine, pid: int) -> None:
    """End backend `pid` as pg_ctl stop -m fast would, and wait until it is gone."""
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        while conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first():
            time.sleep(0.01)


def backend_pid(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_connection_lost_during_a_read_is_a_503_and_discarded(db: Database, admin: Engine) -> None:
    with pytest.raises(ServiceUnavailable) as away, db.read() as conn:
        terminate(admin, backend_pid(conn))
        conn.exec_driver_sql("SELECT 1")
    assert isinstance(away.value.__cause__, OperationalError)
    with db.read() as conn:  # the pool hands out a working connection afterwards
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_a_write_that_loses_its_connection_before_commit_is_a_503_and_not_written(
    db: Database, admin: Engine
) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id integer PRIMARY KEY)")

    def unit(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO notes VALUES (1)")
        terminate(admin, backend_pid(conn))
        conn.exec_driver_sql("INSERT INTO notes VALUES (2)")

    with pytest.raises(ServiceUnavailable):
        db.run_write(unit)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar_one() == 0


def test_a_commit_lost_in_flight_is_an_unknown_outcome_never_a_503(db: Database, admin: Engine) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id integer PRIMARY KEY)")
    pids: list[int] = []

    def unit(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO notes VALUES (1)")
        pids.append(backend_pid(conn))

    def lose_connection(_conn: Any) -> None:
        # Between the last statement and COMMIT: the client sends COMMIT and hears only that the
        # connection is gone, which it cannot tell from a COMMIT done and its answer lost.
        terminate(admin, pids[-1])

    event.listen(db.engine, "commit", lose_connection)
    with pytest.raises(CommitOutcomeUnknown) as unknown:
        db.run_write(unit)
    event.remove(db.engine, "commit", lose_connection)
    assert isinstance(unknown.value.__cause__, OperationalError)
    assert db.run_write(unit) is None  # and the next write has a working connection


def test_a_connection_that_died_idle_in_the_pool_is_replaced_unseen(db: Database, admin: Engine) -> None:
    with db.read() as conn:
        first = backend_pid(conn)
        socket = conn.connection.driver_connection.pgconn.socket  # type: ignore[union-attr]
    terminate(admin, first)
    # The backend leaves pg_stat_activity a moment before its process exits and closes the socket.
    poller = select.poll()
    poller.register(socket, select.POLLRDHUP)
    assert poller.poll(5000)
    with db.read() as conn:
        assert backend_pid(conn) != first


def test_an_unreachable_server_is_a_503_at_once() -> None:
    database = open_database(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    started = time.monotonic()
    try:
        with pytest.raises(ServiceUnavailable) as away, database.read():
            pass
        with pytest.raises(ServiceUnavailable):
            database.run_write(lambda conn: conn.exec_driver_sql("SELECT 1"))
    finally:
        database.dispose()
    assert isinstance(away.value.__cause__, OperationalError)
    assert time.monotonic() - started < 2.0
