"""Open a database: SQLite locking and transactions, PostgreSQL options. With storage/engine_setup.py
(each dialect's engine: pool, pragmas, connect options) and storage/dialect.py (the JSON SQL of
any/all), the only dialect-aware code.

SQLite runs in WAL mode, so a commit is in the WAL file before the call returns and survives the server
process being killed; `flush_to_disk` adds an fsync per commit (synchronous=FULL) for power loss.
PostgreSQL gets the same choice through synchronous_commit.

`group_commit` runs concurrent SQLite writes (Database.run_write) in shared transactions, so that many
writes pay for one commit and one fsync (storage/group_commit.py says how). On PostgreSQL each write is
its own transaction: the server already shares one WAL flush among commits that arrive together.

The statements every request makes go to the driver directly (storage/driver.py): read_rows for a read,
driver_read for the statements of a page, run_prepared inside a write's unit.

Every way in (read, write, run_write) says where a database error struck, connecting, a statement or
COMMIT, and storage/outages.py turns an outage into what its caller raises: ServiceUnavailable (503)
only when nothing was written, CommitOutcomeUnknown (500) when COMMIT was lost in flight.

Bounded work (docs/resilience.md, "Query time"). Once `limit_statements` is called (the server does,
after migrating), every statement stops at the limit and its caller gets GatewayTimeout (504), its
transaction rolled back: PostgreSQL's statement_timeout, given to each connection as it is opened;
SQLite's progress handler, which compares the clock with the deadline of the read or write transaction
its thread is in. And a read can be interrupted from another thread (an Interruption: its client has
gone); a write never is, since under group commit its transaction is other callers' too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from functools import cache, partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, TextClause, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.expression import ClauseElement

from graphtasks.config import MEMORY_DATABASE
from graphtasks.storage.driver import (
    DriverRead,
    Executed,
    PreparedStatements,
    StatementCache,
    ThreadConnections,
    execute,
)
from graphtasks.storage.engine_setup import memory_engine, postgres_engine, sqlite_engine
from graphtasks.storage.group_commit import GroupCommitFailed, GroupCommitter
from graphtasks.storage.outages import (
    PG_CONNECT_ARGS,
    Interrupted,
    Interruption,
    Outages,
    thread_bounds,
)
from graphtasks.storage.write_lock import WriterTurns, lock_file_of

T = TypeVar("T")


class Database:
    """An engine plus the one right way to open a read or a write transaction on it."""

    def __init__(self, engine: Engine, *, group_commit: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite: one writer at a time, across this process's threads and the processes serving the file
        # (storage/write_lock.py); queueing there is cheaper and fairer than SQLITE_BUSY retries.
        self._write_lock: WriterTurns | None = None
        if self.dialect == "sqlite":
            turns = self._write_lock = WriterTurns(lock_file_of(engine.url.database))
            event.listen(engine, "engine_disposed", lambda _engine: turns.close())
        # SQLite only: there writes take turns anyway and a group shares its commit. PostgreSQL already
        # shares one WAL flush among commits that arrive together, and grouping measured no faster there.
        self.group_committer = (
            GroupCommitter(self.write, execute=self._run_fixed)
            if group_commit and self.dialect == "sqlite"
            else None
        )
        self._outages = Outages()
        self._prepared = PreparedStatements(engine.dialect)
        self._statements = StatementCache(engine.dialect)
        # SQLite's hot reads run on a connection of their thread's own (storage/driver.py); PostgreSQL's
        # connections are the server's to ration, so they stay pooled.
        self._own_connections = ThreadConnections(engine) if self.dialect == "sqlite" else None
        # Set by limit_statements; None: statements run as long as they take.
        self._timeout_s: float | None = None
        if self.dialect == "postgresql":
            event.listen(engine, "do_connect", self._with_statement_timeout)

    def limit_statements(self, timeout_s: float) -> None:
        """From now on every statement stops after `timeout_s` (module docstring). Migrations and the
        `graphtasks seed` load run before or without it, since they may rightly take longer."""
        self._timeout_s = timeout_s
        if self.dialect == "postgresql":
            # PostgreSQL's pooled connections were opened without the limit: closed, so that each one
            # from now on is opened with it.
            self.engine.dispose()

    def _with_statement_timeout(
        self, _dialect: Any, _record: Any, _args: Any, params: dict[str, Any]
    ) -> None:
        """A PostgreSQL connection's statement_timeout, sent with the connection's startup message: no
        round trip, and every statement of the session is bound, in autocommit (reads) or in a
        transaction (writes)."""
        if self._timeout_s is not None:
            timeout_ms = max(1, round(self._timeout_s * 1000))
            params["options"] = f"{params.get('options', '')} -c statement_timeout={timeout_ms}".strip()

    def run_write(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit` in a write transaction (shared with concurrent writes under group commit) and
        return its value, or raise its error, only once that transaction has committed."""
        if self.group_committer is None:
            with self.write() as conn:
                return unit(conn)
        with _translated(self._group_failure):
            return self.group_committer.run(unit)

    def _group_failure(self, error: Exception) -> BaseException:
        if isinstance(error, GroupCommitFailed):
            # The shared transaction failed: its error (translated by write()) is every caller's answer.
            return self._outages.for_caller(error)
        # A unit's own error inside a group, raised before any COMMIT (or already translated).
        return self._outages.on_statement(error)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._connect() as conn, self._read_bounds(conn.connection.driver_connection):
            if self.dialect == "postgresql":
                yield from _postgres_autocommit(conn)
            else:  # SQLite: the driver is in autocommit already (engine_setup.py)
                yield conn

    def read_rows(self, statement: ClauseElement, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a hot read (storage/driver.py), as driver_read() runs a read."""
        prepared = self._prepared.get(statement)
        with self.driver_read() as read:
            return read.execute(prepared, prepared.parameters(values)).rows

    @contextmanager
    def driver_read(self) -> Iterator[DriverRead]:
        """A read whose statements go to the driver directly (storage/driver.py), bounded,
        interruptible and translated as read() is: on SQLite on this thread's own connection; on
        PostgreSQL on a pooled one, in read()."""
        if self._own_connections is None:  # PostgreSQL
            with self.read() as conn:
                yield DriverRead(self.engine, conn.connection.driver_connection, self._statements, conn)
            return
        with _translated(self._outages.on_connect):
            connection = self._own_connections.own()
        with self._read_bounds(connection):
            yield DriverRead(self.engine, connection, self._statements)

    @contextmanager
    def _read_bounds(self, driver_connection: Any) -> Iterator[None]:
        """A read on `driver_connection`: its time limit and its thread's Interruption set for the
        block, its errors translated, and both given back after it."""
        interruption, deadline = thread_bounds.interruption, thread_bounds.deadline
        try:
            with _translated(lambda error: self._read_failure(error, interruption)):
                self._bound(driver_connection, interruption)
                yield
        finally:
            thread_bounds.deadline = deadline
            if interruption is not None:
                interruption.take_back()

    def run_prepared(
        self,
        conn: Connection,
        statement: ClauseElement,
        values: Mapping[str, Any],
        *,
        sets: tuple[str, ...] = (),
    ) -> Executed:
        """Run a hot statement on the driver connection under `conn` (in read() or a write unit);
        `sets` names the columns an UPDATE sets."""
        prepared = self._prepared.get(statement, sets)
        driver_connection = conn.connection.driver_connection
        return execute(self.engine, driver_connection, prepared, prepared.parameters(values), conn=conn)

    def _run_fixed(self, conn: Connection, sql: str) -> None:
        """A statement with no parameters (SQLite's BEGIN IMMEDIATE, COMMIT and ROLLBACK, group commit's
        savepoints), sent to the driver as run_prepared sends one: through SQLAlchemy's execution path
        each cost more than the INSERT a write makes."""
        self.run_prepared(conn, _fixed_statement(sql), {})

    def _read_failure(self, error: Exception, interruption: Interruption | None) -> BaseException:
        if interruption is not None and interruption.requested:
            return Interrupted("the read was interrupted: its caller has gone")
        return self._outages.on_statement(error)

    def _bound(self, driver_connection: Any, interruption: Interruption | None) -> None:
        """Start the SQLite deadline of a transaction on `driver_connection`, and lend `interruption`
        the way to stop a read on it."""
        if self._timeout_s is not None and self.dialect == "sqlite":
            thread_bounds.deadline = time.monotonic() + self._timeout_s
        if interruption is not None:
            interruption.lend(self._interrupt_of(driver_connection))

    def _interrupt_of(self, driver_connection: Any) -> Callable[[], object]:
        if self.dialect == "sqlite":
            return driver_connection.interrupt  # type: ignore[no-any-return]
        # PostgreSQL's cancel request opens a connection of its own: it may take as long as one to open.
        # cancel_safe (psycopg 3.2) has that timeout; cancel, psycopg 3.1's, blocks until it is done.
        cancel_safe = getattr(driver_connection, "cancel_safe", None)
        if cancel_safe is None:
            return driver_connection.cancel  # type: ignore[no-any-return]
        return lambda: cancel_safe(timeout=PG_CONNECT_ARGS["connect_timeout"])

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends and rolls back if it raises. Task writes go
        through run_write; this is for the rest (registry, seed, ANALYZE) and for group commit itself."""
        # One writer at a time on SQLite (see __init__); PostgreSQL's writers need no queue here.
        with self._write_lock or nullcontext(), self._connect() as conn:
            deadline = thread_bounds.deadline
            try:
                self._bound(conn.connection.driver_connection, None)
                if self.dialect == "sqlite":
                    # SQLite: IMMEDIATE takes the write lock up front, so a read-then-write transaction
                    # can never fail halfway with SQLITE_BUSY when another process writes.
                    with _translated(self._outages.on_statement):
                        self._run_fixed(conn, "BEGIN IMMEDIATE")
                else:
                    # PostgreSQL: begun on SQLAlchemy's side, so that its COMMIT is sent even when the
                    # transaction's statements all went to the driver directly (run_prepared). psycopg
                    # sends BEGIN with the first statement, as before.
                    conn.begin()
                yield from self._transaction(conn)
            finally:
                thread_bounds.deadline = deadline

    def _transaction(self, conn: Connection) -> Iterator[Connection]:
        roll_back = partial(self._roll_back, conn)
        with _translated(self._outages.on_statement, undo=roll_back, undo_on=BaseException):
            yield conn
        # A refused COMMIT leaves SQLite's transaction open (SQLITE_BUSY) or PostgreSQL's aborted.
        with _translated(self._outages.on_commit, undo=roll_back):
            if self.dialect == "sqlite":
                self._run_fixed(conn, "COMMIT")
            else:  # PostgreSQL
                conn.commit()

    def _connect(self) -> Connection:
        with _translated(self._outages.on_connect):
            return self.engine.connect()

    def _roll_back(self, conn: Connection) -> None:
        """Roll back after an error; if even that fails (the connection is gone), discard the connection
        so the pool never hands it out again. The error that led here is the one the caller gets."""
        try:
            if self.dialect == "postgresql":
                conn.rollback()
            # SQLite may have rolled back by itself (a full disk, sqlite3_get_autocommit), and then a
            # ROLLBACK would fail: only roll back a transaction still open.
            elif conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
                self._run_fixed(conn, "ROLLBACK")
        except Exception:
            conn.invalidate()

    @contextmanager
    def exclusive_write(self, lock_id: int) -> Iterator[Connection]:
        """A write transaction that the exclusive_write(lock_id) of other processes queue behind from
        its start, so a check-then-insert is safe across instances: SQLite's write lock, taken at BEGIN
        IMMEDIATE, already is such a lock; PostgreSQL takes a transaction-scoped advisory lock."""
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(lock_id)})")
            yield conn

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """For loading a database (graphtasks seed): SQLite writes each page once, to the database file
        under a rollback journal, instead of to the WAL and then again at the checkpoint, and goes back
        to WAL afterwards. Leaving WAL needs the database to itself: while a server holds it, the load
        goes through the WAL like any write. PostgreSQL needs nothing."""
        if self.dialect != "sqlite":  # PostgreSQL
            yield
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
        except OperationalError:  # "database is locked": another process has it open
            yield
            return
        try:
            yield
        finally:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    def analyze(self, table: str) -> None:
        """Refresh the planner's statistics after a bulk load; on PostgreSQL also VACUUM, which sets the
        visibility map that index-only scans (a filtered /$count) depend on, and runs outside a
        transaction."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
            return
        with self.write() as conn:
            # SQLite, sampled statistics: enough for choosing indexes, a fraction of a full scan's time.
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql(f"ANALYZE {table}")

    def dispose(self) -> None:
        self.engine.dispose()


def _postgres_autocommit(conn: Connection) -> Iterator[Connection]:
    """A PostgreSQL read in autocommit: under READ COMMITTED every statement takes its own snapshot
    anyway, so a transaction's BEGIN and ROLLBACK would be two network round trips that buy nothing.
    Set on the driver's connection, on the client side: SQLAlchemy's isolation-level option would add
    round trips of its own to set and reset it."""
    driver_connection: Any = conn.connection.driver_connection
    driver_connection.autocommit = True
    try:
        yield conn
    finally:
        _end_autocommit(conn, driver_connection)


def _end_autocommit(conn: Connection, driver_connection: Any) -> None:
    """Back to transactions before the connection returns to the pool. A connection lost during the
    read is not reset (psycopg refuses, and that error would hide the real one); it is discarded."""
    if conn.invalidated or driver_connection.closed:
        return
    try:
        driver_connection.autocommit = False
    except Exception:
        # Discarded rather than back to the pool still in autocommit; whatever the read raised (or
        # returned) stands.
        conn.invalidate()


@cache
def _fixed_statement(sql: str) -> TextClause:
    """One object per SQL text, so that the driver's statements are compiled once for each."""
    return text(sql)


def open_database(url: str, *, flush_to_disk: bool | None = None, group_commit: bool = True) -> Database:
    """Connect to `url` (sqlite:///path, postgresql://..., or MEMORY_DATABASE). `flush_to_disk` None
    keeps each default: off for SQLite (its recommended WAL setting), on for PostgreSQL (the server's
    own default)."""
    if url == MEMORY_DATABASE:
        return Database(memory_engine(), group_commit=group_commit)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Database(sqlite_engine(url, flush_to_disk=bool(flush_to_disk)), group_commit=group_commit)
    if parsed.get_backend_name() == "postgresql":
        return Database(postgres_engine(url, flush_to_disk=flush_to_disk), group_commit=group_commit)
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


@contextmanager
def _translated(
    translate: Callable[[Exception], BaseException],
    *,
    undo: Callable[[], None] | None = None,
    undo_on: type[BaseException] = Exception,
) -> Iterator[None]:
    """The one place a database error becomes what the caller raises (outages.py decides what): an
    error the block raises is replaced by `translate(error)`, chained to it, or stands when that is the
    error itself. `undo` runs first when the block raises an `undo_on` (BaseException: KeyboardInterrupt
    too)."""
    try:
        yield
    except BaseException as error:
        if undo is not None and isinstance(error, undo_on):
            undo()
        if not isinstance(error, Exception):
            raise
        replacement = translate(error)
        if replacement is error:
            raise
        raise replacement from error
