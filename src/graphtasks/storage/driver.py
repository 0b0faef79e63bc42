"""The hot statements run on the database driver's own connection: a SQLAlchemy statement compiled
once per dialect to its SQL text and its parameters' order and bind conversions (`Prepared`), and, on
SQLite, a connection of each thread's own, kept open (`ThreadConnections`).

SQLAlchemy's execution path (the compiled cache lookup, the execution context, the result object) and
its pool's checkout and check-in cost several times what SQLite takes to find one row by its key. The
statements every request makes skip both, and so do the reads of a page of a collection, whose
statements are built for each request (`StatementCache`); the rest (migrations, the registry, the writes
of an import) keep SQLAlchemy. The driver sees the same SQL text each time, so it reuses its prepared
statement: sqlite3's statement cache; psycopg prepares a statement it has run a few times.

A driver error leaves here as the DBAPIError SQLAlchemy would have raised for it (connection_invalidated
set when the dialect calls it a disconnect), so that storage/outages.py judges it as any other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.cache_key import CacheKey
from sqlalchemy.sql.compiler import ExpandedState, SQLCompiler
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

    def expanded(self, state: ExpandedState) -> Prepared:
        """This statement with its expanding parameters written out for one set of values (`state`):
        each element of a list given to IN becomes a parameter of its own, converted as the list's
        type converts one value."""
        processors = {**dict(zip(self.names, self.bind, strict=True)), **state.processors}
        names = tuple(state.positiontup or ())
        return Prepared(state.statement, names, tuple(processors.get(name) for name in names), self.result)


class Executed(NamedTuple):
    rows: list[tuple[Any, ...]]
    rowcount: int


def prepare(statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] = ()) -> Prepared:
    """`statement` compiled for `dialect`'s driver, with positional parameters (qmark for sqlite3,
    format for psycopg). `column_keys` names the columns an INSERT or UPDATE sets (all, for none)."""
    positional = _positional_dialect(dialect)
    compiled = _compiled(statement.compile(dialect=positional, column_keys=list(column_keys) or None))
    return _prepared(statement, compiled, positional)


def _compiled(compiled: Any) -> SQLCompiler:
    """A statement's compiled form, as SQLAlchemy types it (Compiled) narrowed to what a statement
    compiles to (SQLCompiler: its parameters' order, binds and expanded forms)."""
    return cast(SQLCompiler, compiled)


def _prepared(statement: ClauseElement, compiled: SQLCompiler, positional: Dialect) -> Prepared:
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


@dataclass(frozen=True)
class _Shape:
    """A statement compiled once for all the statements of its shape."""

    compiled: SQLCompiler
    prepared: Prepared
    # Whether the SQL text is written for each set of values: an expanding parameter (a list given to
    # IN) or a literal-execute one (rendered into the text) make the text depend on the values.
    expands: bool


class StatementCache:
    """Statements built for each request (a page's, whose $filter, $orderby, cast and size give it its
    shape), compiled once per shape, as SQLAlchemy's own compiled cache does: keyed by SQLAlchemy's cache
    key of the statement, which tells two statements apart by everything but their bound values, and
    holds those values in an order that is the same for every statement of one shape. The `size` shapes
    used last are kept."""

    def __init__(self, dialect: Dialect, *, size: int = 500) -> None:
        self._dialect = _positional_dialect(dialect)
        self._size = size
        self._shapes: OrderedDict[Any, _Shape] = OrderedDict()
        self._lock = threading.Lock()  # the storage threads share it

    def __len__(self) -> int:
        return len(self._shapes)

    def bound(self, statement: ClauseElement) -> tuple[Prepared, tuple[Any, ...]]:
        """`statement` as its driver takes it, and its parameters."""
        # The key SQLAlchemy's own compiled cache is keyed by; None for a construct SQLAlchemy cannot
        # cache, which is then compiled for this call alone.
        key = statement._generate_cache_key()
        if key is None:
            shape = self._compile(statement, None)
            return _bound(shape, shape.compiled.construct_params())
        # The statement's own values, from its key, matched to the compiled statement's parameters by
        # their place in the key.
        shape = self._shape(statement, key)
        return _bound(shape, shape.compiled.construct_params(key.params, extracted_parameters=key.bindparams))

    def _shape(self, statement: ClauseElement, key: CacheKey) -> _Shape:
        with self._lock:
            shape = self._shapes.get(key.key)
            if shape is not None:
                self._shapes.move_to_end(key.key)
                return shape
        # Compiled outside the lock; two threads may both compile a new shape, and one keeps it.
        shape = self._compile(statement, key)
        with self._lock:
            self._shapes[key.key] = shape
            while len(self._shapes) > self._size:
                self._shapes.popitem(last=False)
        return shape

    def _compile(self, statement: ClauseElement, key: CacheKey | None) -> _Shape:
        compiled = _compiled(statement.compile(dialect=self._dialect, cache_key=key))
        expands = bool(compiled.post_compile_params or compiled.literal_execute_params)
        return _Shape(compiled, _prepared(statement, compiled, self._dialect), expands)


def _bound(shape: _Shape, values: Mapping[str, Any]) -> tuple[Prepared, tuple[Any, ...]]:
    if not shape.expands:
        return shape.prepared, shape.prepared.parameters(values)
    # IN lists of any length share the shape: each call's SQL text is written out from the compiled
    # form, as SQLAlchemy does when it executes such a statement.
    state = shape.compiled.construct_expanded_state(values)
    prepared = shape.prepared.expanded(state)
    return prepared, prepared.parameters(state.parameters)


def execute(
    engine: Engine,
    driver_connection: Any,
    prepared: Prepared,
    parameters: tuple[Any, ...],
    *,
    conn: Connection | None = None,
) -> Executed:
    """Run `prepared` with `parameters` on `driver_connection` (under `conn`, if it is a pooled one):
    its rows (none for a write) and how many rows it changed."""
    cursor = driver_connection.cursor()
    try:
        _start(engine, cursor, prepared.sql, parameters, conn)
        if cursor.description is None:
            return Executed([], cursor.rowcount)
        return Executed([prepared.row(raw) for raw in cursor.fetchall()], cursor.rowcount)
    except engine.dialect.loaded_dbapi.Error as error:
        raise _driver_error(engine, error, driver_connection, cursor, prepared.sql, conn) from error
    finally:
        cursor.close()


def stream(
    engine: Engine,
    driver_connection: Any,
    prepared: Prepared,
    parameters: tuple[Any, ...],
    *,
    conn: Connection | None = None,
) -> Generator[tuple[Any, ...], None, None]:
    """The rows of `prepared` run with `parameters`, as execute() runs it, taken from the driver as
    they are asked for: sqlite3 steps the statement to each, so rows past where the reader stops are
    never read. Run when first asked; closing it closes the cursor."""
    cursor = driver_connection.cursor()
    try:
        _start(engine, cursor, prepared.sql, parameters, conn)
        for raw in cursor:
            yield prepared.row(raw)
    except engine.dialect.loaded_dbapi.Error as error:
        raise _driver_error(engine, error, driver_connection, cursor, prepared.sql, conn) from error
    finally:
        cursor.close()


def _start(
    engine: Engine, cursor: Any, sql: str, parameters: tuple[Any, ...], conn: Connection | None
) -> None:
    """Send the statement. The engine's before_cursor_execute listeners are told first, as SQLAlchemy
    would tell them: PostgreSQL's interruption check is one."""
    for listener in engine.dispatch.before_cursor_execute:
        listener(conn, cursor, sql, parameters, None, False)
    cursor.execute(sql, parameters)


def _driver_error(
    engine: Engine, error: Any, driver_connection: Any, cursor: Any, sql: str, conn: Connection | None
) -> StatementError:
    """`error` as the DBAPIError SQLAlchemy would have raised for it. A pooled connection the dialect
    calls lost is invalidated, as SQLAlchemy does (its cursor closed first): never pooled again."""
    dialect = engine.dialect
    invalidated = dialect.is_disconnect(error, driver_connection, cursor)
    if invalidated and conn is not None:
        cursor.close()
        conn.invalidate()
    translated: StatementError = DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
    return translated


@dataclass(frozen=True)
class DriverRead:
    """One read's statements, sent to its driver connection (under `conn`, PostgreSQL's pooled one)."""

    engine: Engine
    connection: Any
    statements: StatementCache
    conn: Connection | None = None

    def execute(self, prepared: Prepared, parameters: tuple[Any, ...]) -> Executed:
        return execute(self.engine, self.connection, prepared, parameters, conn=self.conn)

    def all(self, statement: ClauseElement) -> list[tuple[Any, ...]]:
        """Every row of a statement built for this read."""
        return self.execute(*self.statements.bound(statement)).rows

    def rows(self, statement: ClauseElement) -> Generator[tuple[Any, ...], None, None]:
        """The rows of a statement built for this read, as stream() gives them."""
        prepared, parameters = self.statements.bound(statement)
        return stream(self.engine, self.connection, prepared, parameters, conn=self.conn)


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
