"""The hot statements run on the database driver's own connection: a SQLAlchemy statement compiled
once per dialect to its SQL text and its parameters' order and bind conversions (`Prepared`), and, on
SQLite, a connection of each thread's own, kept open (`ThreadConnections`).

SQLAlchemy's execution path (the compiled cache lookup, the execution context, the result object) and
its pool's checkout and check-in cost several times what SQLite takes to find one row by its key. The
statements every request makes skip both; the rest (queries built from $filter, migrations, the
registry) keep SQLAlchemy. The driver sees the same SQL text each time, so it reuses its prepared
statement: sqlite3's statement cache; psycopg prepares a statement it has run a few times.

A driver error leaves here as the DBAPIError SQLAlchemy would have raised for it (connection_invalidated
set when the dialect calls it a disconnect), so that storage/outages.py judges it as any other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Prepared:
    """One statement as its dialect's driver takes it: SQL text with positional parameters, and the
    conversions SQLAlchemy's types would apply on the way in and out."""

    sql: str
    names: tuple[str, ...]
    # Each parameter's conversion to what the driver takes (a JSON column's list to its text), if any.
    bind: tuple[Processor | None, ...]
    # Each result column's conversion from what the driver gives (SQLite's JSON text to a list); None
    # when no column needs one.
    result: tuple[Processor | None, ...] | None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in zip(self.names, self.bind, strict=True)
        )

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.result is None:
            return raw
        return tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(raw, self.result, strict=True)
        )


class Executed(NamedTuple):
    rows: list[tuple[Any, ...]]
    rowcount: int


def prepare(statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] = ()) -> Prepared:
    """`statement` compiled for `dialect`'s driver, with positional parameters (qmark for sqlite3,
    format for psycopg). `column_keys` names the columns an INSERT or UPDATE sets (all, for none)."""
    positional = _positional_dialect(dialect)
    compiled: Any = statement.compile(  # a SQLCompiler: positiontup, binds
        dialect=positional, column_keys=list(column_keys) or None
    )
    names = tuple(compiled.positiontup or ())
    bind = tuple(compiled.binds[name].type._cached_bind_processor(positional) for name in names)
    columns = getattr(statement, "selected_columns", ())
    result = tuple(column.type._cached_result_processor(positional, None) for column in columns)
    return Prepared(str(compiled), names, bind, result if any(result) else None)


def _positional_dialect(dialect: Dialect) -> Dialect:
    """A dialect like `dialect` whose driver parameters are positional: sqlite3's qmark already is;
    SQLAlchemy gives psycopg named ones, which would make a dict of each set of parameters."""
    positional = _positional_dialects.get(dialect.name)
    if positional is None:
        dialect_class: Any = type(dialect)
        positional = _positional_dialects[dialect.name] = dialect_class(paramstyle=_PARAMSTYLES[dialect.name])
    return positional


_PARAMSTYLES = {"sqlite": "qmark", "postgresql": "format"}
_positional_dialects: dict[str, Dialect] = {}


class PreparedStatements:
    """The hot statements of one database, each compiled on first use (for each set of columns it
    sets, for an UPDATE)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._prepared: dict[tuple[ClauseElement, tuple[str, ...]], Prepared] = {}

    def get(self, statement: ClauseElement, column_keys: tuple[str, ...] = ()) -> Prepared:
        prepared = self._prepared.get((statement, column_keys))
        if prepared is None:
            prepared = prepare(statement, self._dialect, column_keys)
            self._prepared[statement, column_keys] = prepared
        return prepared


def execute(
    engine: Engine,
    driver_connection: Any,
    prepared: Prepared,
    values: Mapping[str, Any],
    *,
    conn: Connection | None = None,
) -> Executed:
    """Run `prepared` with `values` on `driver_connection` (under `conn`, if it is a pooled one): its
    rows (none for a write) and how many rows it changed. The engine's before_cursor_execute listeners
    are told, as SQLAlchemy would tell them: PostgreSQL's interruption check is one."""
    dialect = engine.dialect
    cursor = driver_connection.cursor()
    try:
        parameters = prepared.parameters(values)
        for listener in engine.dispatch.before_cursor_execute:
            listener(conn, cursor, prepared.sql, parameters, None, False)
        cursor.execute(prepared.sql, parameters)
        if cursor.description is None:
            return Executed([], cursor.rowcount)
        return Executed([prepared.row(raw) for raw in cursor.fetchall()], cursor.rowcount)
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, driver_connection, cursor)
        raise DBAPIError.instance(
            prepared.sql,
            None,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()


class ThreadConnections:
    """SQLite: one driver connection per thread, opened (and configured, engine_setup.py) by the
    engine's pool on first use and then taken out of it, so it no longer counts against the pool's size
    and is never checked out or in again. A connection per thread is safe with SQLite, whose
    connections are cheap and serialise writes through the database's own lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Any] = []  # every pool wrapper handed out, to close at dispose
        # Disposing of the engine closes them, whoever does it: the last connection to SQLite's shared
        # memory database frees it.
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def own(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            wrapper = self._engine.raw_connection()
            connection = wrapper.driver_connection
            wrapper.detach()
            with self._lock:
                self._opened.append(wrapper)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close them all: only when no thread uses them any more (the database is being disposed)."""
        with self._lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for wrapper in opened:
            wrapper.close()
