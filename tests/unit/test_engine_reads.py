"""Database.read() on PostgreSQL: autocommit on the driver for the read, transactions again after it,
and a connection lost during a read reported as lost (not hidden behind the autocommit reset)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from graphtasks.storage.engine import Database, open_database
from tests.support.databases import postgres_database

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


def test_a_connection_lost_during_a_read_is_reported_and_discarded(db: Database) -> None:
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(OperationalError), db.read() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.exec_driver_sql("SELECT 1")
    finally:
        admin.dispose()
    with db.read() as conn:  # the pool hands out a working connection afterwards
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
