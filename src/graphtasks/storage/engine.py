"""Open a database: SQLite pragmas and locking, PostgreSQL options. With storage/dialect.py (the
JSON SQL of any/all), the only dialect-aware code.

SQLite runs in WAL mode, so a commit is in the WAL file before the call returns and survives the server
process being killed; `flush_to_disk` adds an fsync per commit (synchronous=FULL) for power loss.
PostgreSQL gets the same choice through synchronous_commit.

`group_commit` runs concurrent writes (Database.run_write) in shared transactions, so that many writes
pay for one commit and one fsync (storage/group_commit.py says how, and how a PostgreSQL group that
meets another connection's lock gives the waiting write back to run alone).

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

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from graphtasks.config import MEMORY_DATABASE
from graphtasks.storage.dialect import UNICODE_LOWER, UNICODE_UPPER
from graphtasks.storage.group_commit import GroupCommitFailed, GroupCommitter
from graphtasks.storage.outages import (
    PG_CONNECT_ARGS,
    PROGRESS_STEPS,
    Interrupted,
    Interruption,
    Outages,
    past_deadline,
    pg_liveness_check,
    thread_bounds,
)

T = TypeVar("T")

# How long a unit of a PostgreSQL group may wait for a row lock another connection holds before it is
# taken out of the group and run in a transaction of its own (group_commit.py, "Locks and deadlocks"):
# the longest a foreign lock can stall a group, well under deadlock_timeout's default of 1 s.
GROUP_LOCK_TIMEOUT_MS = 100
# PostgreSQL's lock_not_available (what lock_timeout raises) and deadlock_detected (Appendix A).
_LOST_LOCK_WAIT = frozenset({"55P03", "40P01"})


class Database:
    """An engine plus the one right way to open a read or a write transaction on it."""

    def __init__(self, engine: Engine, *, group_commit: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # One writer at a time inside this process: SQLite has a single write lock anyway, and queueing
        # here is cheaper than SQLITE_BUSY retries in the driver.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self.group_committer = (
            GroupCommitter(self._group_transaction, retry_alone=_lost_lock_wait) if group_commit else None
        )
        self._outages = Outages()
        # Set by limit_statements; None: statements run as long as they take.
        self._timeout_s: float | None = None
        if self.dialect == "postgresql":
            event.listen(engine, "do_connect", self._with_statement_timeout)

    def limit_statements(self, timeout_s: float) -> None:
        """From now on every statement stops after `timeout_s` (module docstring). Migrations and the
        `graphtasks seed` load run before or without it, since they may rightly take longer."""
        self._timeout_s = timeout_s
        if self.dialect == "postgresql":
            # The pooled connections were opened without the limit: closed, so that each one from now
            # on is opened with it.
            self.engine.dispose()

    def _with_statement_timeout(
        self, _dialect: Any, _record: Any, _args: Any, params: dict[str, Any]
    ) -> None:
        """A PostgreSQL connection's statement_timeout, sent with the connection's startup message: no
        round trip, and every statement of the session is bound, in autocommit (reads) or in a
        transaction (writes, a group's units one by one)."""
        if self._timeout_s is not None:
            timeout_ms = max(1, round(self._timeout_s * 1000))
            params["options"] = f"{params.get('options', '')} -c statement_timeout={timeout_ms}".strip()

    def run_write(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit` in a write transaction (shared with concurrent writes under group commit) and
        return its value, or raise its error, only once that transaction has committed."""
        if self.group_committer is None:
            with self.write() as conn:
                return unit(conn)
        try:
            return self.group_committer.run(unit)
        except GroupCommitFailed as failed:
            # The shared transaction failed: its error (translated by write()) is every caller's answer.
            _raise_instead(failed, self._outages.for_caller(failed))
        except Exception as error:
            # A unit's own error inside a group, raised before any COMMIT (or already translated).
            _raise_instead(error, self._outages.on_statement(error))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._connect() as conn:
            interruption, deadline = thread_bounds.interruption, thread_bounds.deadline
            try:
                self._bound(conn, interruption)
                if self.dialect != "postgresql":
                    yield conn
                    return
                # Reads run in autocommit: under READ COMMITTED every statement takes its own snapshot
                # anyway, so a transaction's BEGIN and ROLLBACK would be two network round trips that
                # buy nothing. Set on the driver's connection, on the client side: SQLAlchemy's
                # isolation-level option would add round trips of its own to set and reset it.
                driver_connection: Any = conn.connection.driver_connection
                driver_connection.autocommit = True
                try:
                    yield conn
                finally:
                    _end_autocommit(conn, driver_connection)
            except Exception as error:
                if interruption is not None and interruption.requested:
                    raise Interrupted("the read was interrupted: its caller has gone") from error
                _raise_instead(error, self._outages.on_statement(error))
            finally:
                thread_bounds.deadline = deadline
                if interruption is not None:
                    interruption.take_back()

    def _bound(self, conn: Connection, interruption: Interruption | None) -> None:
        """Start the SQLite deadline of a transaction on `conn`, and lend `interruption` the way to stop
        a read on it."""
        if self._timeout_s is not None and self._write_lock is not None:
            thread_bounds.deadline = time.monotonic() + self._timeout_s
        if interruption is not None:
            driver_connection: Any = conn.connection.driver_connection
            interruption.lend(self._interrupt_of(driver_connection))

    def _interrupt_of(self, driver_connection: Any) -> Callable[[], object]:
        if self._write_lock is not None:
            return driver_connection.interrupt  # type: ignore[no-any-return]
        # The cancel request opens a connection of its own: it may take as long as one to open.
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
                self._bound(conn, None)
                if self._write_lock is not None:
                    # IMMEDIATE takes the write lock up front, so a read-then-write transaction can
                    # never fail halfway with SQLITE_BUSY when another process writes.
                    self._statement(conn, "BEGIN IMMEDIATE")
                yield from self._transaction(conn)
            finally:
                thread_bounds.deadline = deadline

    def _transaction(self, conn: Connection) -> Iterator[Connection]:
        try:
            yield conn
        except Exception as error:
            self._roll_back(conn)
            _raise_instead(error, self._outages.on_statement(error))
        except BaseException:
            self._roll_back(conn)
            raise
        self._commit(conn)

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except Exception as error:
            _raise_instead(error, self._outages.on_connect(error))

    def _statement(self, conn: Connection, sql: str) -> None:
        try:
            conn.exec_driver_sql(sql)
        except Exception as error:
            _raise_instead(error, self._outages.on_statement(error))

    def _commit(self, conn: Connection) -> None:
        try:
            if self._write_lock is not None:
                conn.exec_driver_sql("COMMIT")
            else:
                conn.commit()
        except Exception as error:
            # A refused COMMIT leaves SQLite's transaction open (SQLITE_BUSY) or PostgreSQL's aborted.
            self._roll_back(conn)
            _raise_instead(error, self._outages.on_commit(error))

    def _roll_back(self, conn: Connection) -> None:
        """Roll back after an error; if even that fails (the connection is gone), discard the connection
        so the pool never hands it out again. The error that led here is the one the caller gets."""
        try:
            if self._write_lock is None:
                conn.rollback()
            # SQLite may have rolled back by itself (a full disk, sqlite3_get_autocommit), and then a
            # ROLLBACK would fail: only roll back a transaction still open.
            elif conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
                conn.exec_driver_sql("ROLLBACK")
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

    def _group_transaction(self, size: int) -> AbstractContextManager[Connection]:
        if size > 1 and self.dialect == "postgresql":
            return self._lock_timed_write()
        return self.write()

    @contextmanager
    def _lock_timed_write(self) -> Iterator[Connection]:
        with self.write() as conn:
            # SET LOCAL: ends with this transaction, so a lone write keeps the server's setting.
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{GROUP_LOCK_TIMEOUT_MS}ms'")
            yield conn

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """For loading a database (graphtasks seed): SQLite writes each page once, to the database file
        under a rollback journal, instead of to the WAL and then again at the checkpoint, and goes back
        to WAL afterwards. Leaving WAL needs the database to itself: while a server holds it, the load
        goes through the WAL like any write. PostgreSQL needs nothing."""
        if self.dialect != "sqlite":
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
            # Sampled statistics: enough for choosing indexes, a fraction of a full scan's time.
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql(f"ANALYZE {table}")

    def dispose(self) -> None:
        self.engine.dispose()


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


def open_database(url: str, *, flush_to_disk: bool | None = None, group_commit: bool = True) -> Database:
    """Connect to `url` (sqlite:///path, postgresql://..., or MEMORY_DATABASE). `flush_to_disk` None
    keeps each default: off for SQLite (its recommended WAL setting), on for PostgreSQL (the server's
    own default)."""
    if url == MEMORY_DATABASE:
        return Database(_memory_engine(), group_commit=group_commit)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Database(_sqlite_engine(url, flush_to_disk=bool(flush_to_disk)), group_commit=group_commit)
    if parsed.get_backend_name() == "postgresql":
        return Database(_postgres_engine(url, flush_to_disk=flush_to_disk), group_commit=group_commit)
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


def _raise_instead(error: BaseException, replacement: BaseException) -> NoReturn:
    """Raise `replacement` for `error` (chained to it), or `error` itself when they are one."""
    if replacement is error:
        raise error
    raise replacement from error


def _lost_lock_wait(error: BaseException) -> bool:
    """A PostgreSQL unit that gave up waiting for a lock; SQLite's errors carry no sqlstate."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in _LOST_LOCK_WAIT


# The threads the web layer runs storage calls on (web/blocking.py).
WORKER_THREADS = 40


def _memory_engine() -> Engine:
    """A SQLite database in memory that every connection of this process shares, through SQLite's memdb
    VFS (a name starting with "/"). Unlike `:memory:` (one connection's own) or a shared cache (table
    locks that fail at once instead of waiting), its connections lock as a file's do, so the engine
    behaves as on a file, without WAL. SQLite frees the database with its last connection: one is kept
    open until the engine is disposed, whatever the pool closes meanwhile."""
    name = f"/graphtasks-{uuid.uuid4().hex}"
    keeper = sqlite3.connect(f"file:{name}?vfs=memdb", uri=True)
    engine = _sqlite_engine(f"sqlite:///file:{name}?vfs=memdb&uri=true", flush_to_disk=False)
    event.listen(engine, "engine_disposed", lambda _engine: keeper.close())
    return engine


def _sqlite_engine(url: str, *, flush_to_disk: bool) -> Engine:
    parsed = make_url(url)
    path = parsed.database
    if path and path != ":memory:" and "uri" not in parsed.query:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection per worker thread plus one for the point reads the event loop makes itself
    # (web/blocking.py), so the loop never waits for a connection; and no overflow: an overflow connection
    # is opened and configured for one request and then closed, which cost more than the request's query
    # under load. SQLite connections are cheap to keep open.
    # hide_parameters: an error's text names its statement, never the values bound to it (tenant ids,
    # what a client sent), wherever it is printed.
    engine = create_engine(url, pool_size=WORKER_THREADS + 1, max_overflow=0, hide_parameters=True)
    synchronous = "FULL" if flush_to_disk else "NORMAL"

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; Database.write() issues BEGIN IMMEDIATE itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # case_sensitive_like: OData's startswith/endswith/contains are case-sensitive, as PostgreSQL's
        # LIKE already is.
        pragmas = (
            "journal_mode=WAL",
            f"synchronous={synchronous}",
            "busy_timeout=10000",
            "case_sensitive_like=ON",
        )
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        for name, function in ((UNICODE_LOWER, _lower), (UNICODE_UPPER, _upper)):
            dbapi_connection.create_function(name, 1, function, deterministic=True)
        dbapi_connection.set_progress_handler(past_deadline, PROGRESS_STEPS)

    return engine


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _upper(text: str | None) -> str | None:
    return None if text is None else text.upper()


def _postgres_engine(url: str, *, flush_to_disk: bool | None) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Fail fast when the server is unreachable (outages.py); the URL's own settings win.
    connect_args: dict[str, Any] = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in parsed.query}
    if flush_to_disk is not None:
        connect_args["options"] = f"-c synchronous_commit={'on' if flush_to_disk else 'off'}"
    # No overflow either (a PostgreSQL connection costs milliseconds to open); half the worker threads,
    # so that several instances stay well inside the server's default max_connections of 100.
    engine = create_engine(
        parsed,
        pool_size=WORKER_THREADS // 2,
        max_overflow=0,
        connect_args=connect_args,
        hide_parameters=True,
    )
    # Connections that died while pooled (a PostgreSQL restart) are replaced at checkout, for the cost of
    # a poll(2) instead of pool_pre_ping's round trip; one lost in use is invalidated by SQLAlchemy (its
    # dialect's is_disconnect), with every connection pooled before it.
    event.listen(engine, "checkout", pg_liveness_check)
    return engine
