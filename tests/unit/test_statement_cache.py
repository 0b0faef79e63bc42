"""The statement cache of storage/driver.py: statements built for each request, compiled once per shape
and run on the driver with their own values. Same shape with other values, shapes that differ, IN
lists of any length, values converted on the way in and out, the bound on how many shapes are kept,
and a construct SQLAlchemy cannot cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    insert,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from graphtasks.storage.driver import DriverRead, StatementCache
from tests.conftest import BACKENDS
from tests.support.databases import database


class Folded(TypeDecorator[str]):
    """Text kept upper-cased: a type whose values are converted on the way in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.upper()


metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner", Folded, nullable=False),
    Column("tags", JSON, nullable=False),
)
ROWS = [
    {"id": 1, "owner": "ann", "tags": ["a"]},
    {"id": 2, "owner": "bob", "tags": []},
    {"id": 3, "owner": "ann", "tags": ["b", "c"]},
    {"id": 4, "owner": "cy", "tags": ["a"]},
]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with database(request.param, tmp_path) as url:
        engine = create_engine(url)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(notes), ROWS)
        yield engine
        engine.dispose()


Rows = Callable[[Select[Any]], list[tuple[Any, ...]]]


@pytest.fixture
def cache(engine: Engine) -> StatementCache:
    return StatementCache(engine.dialect)


@pytest.fixture
def rows(engine: Engine, cache: StatementCache) -> Iterator[Rows]:
    """Runs a statement through `cache` on a driver connection of the engine's, as a read does."""
    wrapper = engine.raw_connection()
    try:
        yield DriverRead(engine, wrapper.driver_connection, cache).all
    finally:
        wrapper.close()


def ids(found: list[tuple[Any, ...]]) -> list[int]:
    return [row[0] for row in found]


def of_owner(owner: str) -> Select[Any]:
    return select(notes.c.id, notes.c.tags).where(notes.c.owner == owner).order_by(notes.c.id)


def test_statements_of_one_shape_share_a_compiled_form_and_keep_their_own_values(
    rows: Rows, cache: StatementCache
) -> None:
    assert rows(of_owner("ann")) == [(1, ["a"]), (3, ["b", "c"])]
    assert rows(of_owner("bob")) == [(2, [])]
    assert rows(of_owner("cy")) == [(4, ["a"])]
    assert rows(of_owner("dee")) == []
    assert len(cache) == 1


ORDERED = select(notes.c.id).order_by(notes.c.id)
# Statements alike but for what is not a bound value: each a shape of its own.
SHAPES: list[tuple[str, Select[Any], list[int]]] = [
    ("greater", ORDERED.where(notes.c.id > 2), [3, 4]),
    ("less", ORDERED.where(notes.c.id < 2), [1]),
    ("other column", ORDERED.where(notes.c.owner > "b"), [2, 4]),
    ("descending", select(notes.c.id).where(notes.c.id > 2).order_by(notes.c.id.desc()), [4, 3]),
    ("limited", ORDERED.where(notes.c.id > 0).limit(2), [1, 2]),
    ("offset", ORDERED.where(notes.c.id > 0).limit(2).offset(1), [2, 3]),
]


def test_statements_of_different_shapes_do_not_collide(rows: Rows, cache: StatementCache) -> None:
    for _ in range(2):  # compiled the first time, from the cache the second
        assert {name: ids(rows(statement)) for name, statement, _ in SHAPES} == {
            name: found for name, _, found in SHAPES
        }
    assert len(cache) == len(SHAPES)


@pytest.mark.parametrize(("limit", "found"), [(1, [1]), (3, [1, 2, 3]), (10, [1, 2, 3, 4])])
def test_a_limit_is_a_value_of_the_shape(
    rows: Rows, cache: StatementCache, limit: int, found: list[int]
) -> None:
    rows(ORDERED.limit(2))
    assert ids(rows(ORDERED.limit(limit))) == found
    assert len(cache) == 1


def test_in_lists_of_any_length_share_a_shape(rows: Rows, cache: StatementCache) -> None:
    lists = {(): [], (4,): [4], (3, 1): [1, 3], (1, 2, 3, 4, 5): [1, 2, 3, 4]}
    for listed, found in lists.items():
        assert ids(rows(ORDERED.where(notes.c.id.in_(listed)))) == found
    assert len(cache) == 1


def test_each_element_of_an_in_list_is_converted_as_its_type_converts_one(rows: Rows) -> None:
    assert ids(rows(ORDERED.where(notes.c.owner.in_(["cy", "bob"])))) == [2, 4]
    assert ids(rows(ORDERED.where(notes.c.owner.in_(["ann"]), notes.c.id > 1))) == [3]


def test_the_shapes_used_last_are_kept(rows: Rows, engine: Engine) -> None:
    cache = StatementCache(engine.dialect, size=2)
    first, second, third = (ORDERED.where(notes.c.id > 0), ORDERED.where(notes.c.id < 9), ORDERED.limit(1))
    kept = cache.bound(first)[0]
    dropped = cache.bound(second)[0]
    assert cache.bound(first)[0] is kept  # used last now: `second` is the oldest
    cache.bound(third)
    assert len(cache) == 2
    assert cache.bound(first)[0] is kept
    assert cache.bound(second)[0] is not dropped  # compiled again


class UncachedOne(FunctionElement[int]):
    """A construct that opts out of SQLAlchemy's caching: it has no cache key."""

    type = Integer()
    inherit_cache = False


@compiles(UncachedOne)
def _compile_one(_element: UncachedOne, _compiler: SQLCompiler, **_kw: Any) -> str:
    return "1"


@pytest.mark.parametrize(("bound", "found"), [(1, [2, 3, 4]), (3, [4])])
def test_a_statement_without_a_cache_key_is_compiled_for_each_call(
    rows: Rows, cache: StatementCache, bound: int, found: list[int]
) -> None:
    statement = ORDERED.where(notes.c.id > bound, UncachedOne() == 1)
    assert statement._generate_cache_key() is None
    assert ids(rows(statement)) == found
    assert len(cache) == 0
