"""Each database's SQLAlchemy engine, as Database (engine.py) needs it: the pool's size, SQLite's
pragmas, functions and progress handler, SQLite's shared memory database, PostgreSQL's connect options
and pooled-connection liveness check. Makes engines only; transactions and errors are engine.py's.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from graphtasks.storage.dialect import UNICODE_LOWER, UNICODE_UPPER
from graphtasks.storage.outages import (
    PG_CONNECT_ARGS,
    PROGRESS_STEPS,
    past_deadline,
    pg_liveness_check,
    pg_refuse_if_interrupted,
)

# The threads the web layer runs storage calls on (web/blocking.py).
WORKER_THREADS = 40


def memory_engine() -> Engine:
    """A SQLite database in memory that every connection of this process shares, through SQLite's memdb
    VFS (a name starting with "/"). Unlike `:memory:` (one connection's own) or a shared cache (table
    locks that fail at once instead of waiting), its connections lock as a file's do, so the engine
    behaves as on a file, without WAL. SQLite frees the database with its last connection: one is kept
    open until the engine is disposed, whatever the pool closes meanwhile."""
    name = f"/graphtasks-{uuid.uuid4().hex}"
    keeper = sqlite3.connect(f"file:{name}?vfs=memdb", uri=True)
    engine = sqlite_engine(f"sqlite:///file:{name}?vfs=memdb&uri=true", flush_to_disk=False)
    event.listen(engine, "engine_disposed", lambda _engine: keeper.close())
    return engine


def sqlite_engine(url: str, *, flush_to_disk: bool) -> Engine:
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


def postgres_engine(url: str, *, flush_to_disk: bool | None) -> Engine:
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
    event.listen(engine, "before_cursor_execute", pg_refuse_if_interrupted)
    return engine
