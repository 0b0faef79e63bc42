"""Build the SELECT for one page of a collection (tasks, or a task's navigation collection): filter,
type cast, order, keyset continuation; and read a page through it (read_page).

Sorting follows OData on both backends alike: nulls before values ascending (after them descending),
enums by member value, strings by code point. Every order is made total with `id` as the last key,
in the direction of the last $orderby key, so one index serves both; without $orderby tasks come
oldest first (createdDateTime, then id) and navigation entities by id. Pages continue by keyset
("after these key values"), never by offset, so a deep page costs what the first one does; $skip
is applied only to the first page. The same keyset lets a page be read in chunks (chunk_rows), and
tells whether any row follows the one a page was cut after (docs/resilience.md, "Response size").

A page's statements go to the database driver directly (storage/driver.py, DriverRead), and its rows
come as plain tuples: the columns selected, then the sort keys.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from graphtasks.errors import BadRequest
from graphtasks.model.records import ChildRecord, StoredDocument, TaskRecord
from graphtasks.model.schema import DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES
from graphtasks.model.types import ComplexType
from graphtasks.odata.options import OrderKey
from graphtasks.odata.paging import KeyValue
from graphtasks.storage.base import ChildQuery, PageRequest, PageSink, SortKeys, TaskQuery
from graphtasks.storage.driver import DriverRead
from graphtasks.storage.filters import FilterTranslator, Source
from graphtasks.storage.tables import CHILD_TABLES, COLUMNS, tasks

_OLDEST_FIRST = (OrderKey(("createdDateTime",)),)
# The rows a chunked read asks for first, and at most, at a time (chunk_rows).
FIRST_CHUNK_ROWS = 16
MAX_CHUNK_ROWS = 128
Entity = TypeVar("Entity", TaskRecord, ChildRecord, StoredDocument)


@dataclass(frozen=True)
class SortKey:
    sql: ColumnElement[Any]
    descending: bool
    nullable: bool


@dataclass(frozen=True)
class Collection:
    """What a page query runs over: the table, how names resolve, and the rows it is limited to."""

    table: Table
    source: Source
    conditions: tuple[ColumnElement[bool], ...]
    # Without $orderby; `id` always follows as the last key.
    default_order: tuple[OrderKey, ...]
    # What a page selects of each row: the whole row unless given.
    columns: tuple[ColumnElement[Any], ...] | None = None


def task_collection(query: TaskQuery, dialect: str) -> Collection:
    source = Source(
        entity_type=query.cast or DEVICE_APP_MANAGEMENT_TASK,
        columns={**COLUMNS, "id": tasks.c.id},
        dialect=dialect,
        type_column=tasks.c.odata_type,
        types=TASK_TYPES,
    )
    conditions = [tasks.c.tenant_id == query.tenant_id]
    if query.cast is not None and query.cast is not DEVICE_APP_MANAGEMENT_TASK:
        conditions.append(tasks.c.odata_type == query.cast.qualified_name)
    return Collection(tasks, source, tuple(conditions), _OLDEST_FIRST)


def child_collection(query: ChildQuery, dialect: str) -> Collection:
    child = CHILD_TABLES[query.navigation]
    table = child.table
    source = Source(
        entity_type=query.entity_type, columns={**child.columns, "id": table.c.id}, dialect=dialect
    )
    conditions = (table.c.tenant_id == query.tenant_id, table.c.task_id == query.task_id)
    return Collection(table, source, conditions, ())


def page_statement(
    collection: Collection, request: PageRequest, *, rows: int | None = None
) -> tuple[Select[Any], list[SortKey]]:
    """The page's rows, each with its sort keys labelled `sort_key_<i>`: `rows` of them, or by default
    one more than the page holds, which tells whether another page exists."""
    translator = FilterTranslator(collection.source)
    keys = sort_keys(translator, request.orderby or collection.default_order, collection.table)
    conditions = [*collection.conditions, *_filter(translator, request)]
    if request.after is not None:
        conditions.append(after(keys, request.after))
    statement = (
        select(
            *(collection.columns or (collection.table,)),
            *(key.sql.label(f"sort_key_{i}") for i, key in enumerate(keys)),
        )
        .where(*conditions)
        .order_by(*(_order_clause(key) for key in keys))
        .limit(request.limit + 1 if rows is None else rows)
    )
    if request.skip and request.after is None:
        statement = statement.offset(request.skip)
    return statement, keys


def continues_statement(
    collection: Collection, request: PageRequest, values: tuple[KeyValue, ...]
) -> Select[Any]:
    """One row if any follows the row whose sort keys were `values` (a page cut short after it)."""
    translator = FilterTranslator(collection.source)
    keys = sort_keys(translator, request.orderby or collection.default_order, collection.table)
    conditions = [*collection.conditions, *_filter(translator, request), after(keys, values)]
    return select(literal(1)).select_from(collection.table).where(*conditions).limit(1)


def chunk_rows(remaining: int, *, lazy: bool, wanted: int | None) -> int:
    """How many rows the next statement of a page's read asks for, `remaining` being how many the page
    may still take (with the one that tells whether another page follows). A driver that hands rows over
    as the database steps to them (`lazy`: SQLite) reads the whole page in one statement: rows past
    where the reader stops are never read. One that receives a statement's whole result first (psycopg)
    reads it in chunks: FIRST_CHUNK_ROWS, then as many as the reader says it may still take (`wanted`,
    from the sizes so far) and one, at most MAX_CHUNK_ROWS. So a page of small entities takes a few
    statements, and a page cut after a few large ones holds few rows it did not need."""
    if lazy:
        return remaining
    guess = FIRST_CHUNK_ROWS if wanted is None else wanted + 1
    return max(1, min(remaining, guess, MAX_CHUNK_ROWS))


def count_statement(collection: Collection, request: PageRequest) -> Select[Any]:
    translator = FilterTranslator(collection.source)
    conditions = [*collection.conditions, *_filter(translator, request)]
    return select(func.count()).select_from(collection.table).where(*conditions)


def read_count(read: DriverRead, collection: Collection, request: PageRequest) -> int:
    """How many rows the request's filter leaves in the collection."""
    ((count,),) = read.all(count_statement(collection, request))
    return int(count)


def _filter(translator: FilterTranslator, request: PageRequest) -> list[ColumnElement[bool]]:
    return [] if request.filter is None else [translator.predicate(request.filter)]


def sort_keys(translator: FilterTranslator, orderby: tuple[OrderKey, ...], table: Table) -> list[SortKey]:
    keys = [_sort_key(translator, key) for key in orderby]
    keys.append(SortKey(table.c.id, keys[-1].descending if keys else False, nullable=False))
    return keys


def _sort_key(translator: FilterTranslator, key: OrderKey) -> SortKey:
    value = translator.member(key.path)
    if value.collection is not None or isinstance(value.type, ComplexType):
        raise BadRequest(f"The $orderby key '{'/'.join(key.path)}' is a collection and cannot be ordered by.")
    return SortKey(value.sql, key.descending, value.nullable)


def _order_clause(key: SortKey) -> ColumnElement[Any]:
    if key.descending:
        return key.sql.desc().nulls_last() if key.nullable else key.sql.desc()
    return key.sql.asc().nulls_first() if key.nullable else key.sql.asc()


def after(keys: list[SortKey], values: tuple[KeyValue, ...]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort keys were `values`, in the order `keys` define."""
    if len(values) != len(keys):
        raise BadRequest("The $skiptoken value is not valid for this request.")
    uniform = len({key.descending for key in keys}) == 1
    if uniform and not any(key.nullable or value is None for key, value in zip(keys, values, strict=True)):
        # A row-value comparison, which both backends answer with one index range scan.
        row, bound = tuple_(*(key.sql for key in keys)), tuple_(*values)
        return row < bound if keys[0].descending else row > bound
    branches = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        ties = [_equal(k, v) for k, v in zip(keys[:i], values[:i], strict=True)]
        branches.append(and_(*ties, _beyond(key, value)))
    return or_(*branches)


def _equal(key: SortKey, value: KeyValue) -> ColumnElement[bool]:
    return key.sql.is_(None) if value is None else key.sql == value


def _beyond(key: SortKey, value: KeyValue) -> ColumnElement[bool]:
    if key.descending:  # values descend, then nulls
        if value is None:
            return false()
        return or_(key.sql < value, key.sql.is_(None)) if key.nullable else key.sql < value
    if value is None:  # nulls first, then values ascend
        return key.sql.is_not(None)
    return key.sql > value


def children_statement(table: Table, tenant_id: str, parents: list[str], limit: int | None) -> Select[Any]:
    """$expand: the children of `parents`, by parent then id; with `limit`, the first `limit` of each,
    numbered over the primary key's index, so that of the children past `limit` only their keys are read."""
    of_parents = (table.c.tenant_id == tenant_id, table.c.task_id.in_(parents))
    statement = select(table).where(*of_parents).order_by(table.c.task_id, table.c.id)
    if limit is None:
        return statement
    rank = func.row_number().over(partition_by=table.c.task_id, order_by=table.c.id).label("rank")
    ranked = select(table.c.task_id, table.c.id, rank).where(*of_parents).subquery()
    matches = (ranked.c.task_id == table.c.task_id) & (ranked.c.id == table.c.id)
    return statement.join(ranked, matches).where(ranked.c.rank <= limit)


def read_page(
    read: DriverRead,
    collection: Collection,
    request: PageRequest,
    entity: Callable[[tuple[Any, ...]], Entity],
    sink: PageSink[Entity] | None,
    *,
    lazy: bool,
) -> tuple[list[Entity], SortKeys | None]:
    """The page's entities, made from their rows one by one as they are reached (none kept when `sink`
    takes them), and the sort keys the next page starts after, if there is one."""
    items: list[Entity] = []
    take: PageSink[Entity] | _Keep[Entity] = _Keep(items) if sink is None else sink
    with closing(_rows(read, collection, request, take, lazy=lazy)) as rows:
        next_keys, cut = _hand_over(rows, request.limit, entity, take)
    # Cut short by the sink: the page continues only if any row follows the one it ended on.
    if cut is not None and read.all(continues_statement(collection, request, cut)):
        next_keys = cut
    return items, next_keys


def _rows(
    read: DriverRead,
    collection: Collection,
    request: PageRequest,
    sink: PageSink[Entity] | _Keep[Entity],
    *,
    lazy: bool,
) -> Generator[tuple[tuple[Any, ...], SortKeys], None, None]:
    """The page's rows with their sort keys, and the row after them if there is one, read as they are
    asked for, in statements of chunk_rows."""
    remaining, chunk = request.limit + 1, request
    while remaining > 0:
        rows = chunk_rows(remaining, lazy=lazy, wanted=sink.room())
        statement, keys = page_statement(collection, chunk, rows=rows)
        first_key = len(statement.selected_columns) - len(keys)  # the sort keys come last
        taken, last = 0, None
        with closing(read.rows(statement)) as result:
            for row in result:
                taken, last = taken + 1, row[first_key:]
                yield row, last
        remaining -= taken
        if taken < rows or last is None:
            return
        # The next chunk starts after this one's last row; $skip applied to the first only.
        chunk = dataclasses.replace(request, after=last)


def _hand_over(
    rows: Iterator[tuple[tuple[Any, ...], SortKeys]],
    limit: int,
    entity: Callable[[tuple[Any, ...]], Entity],
    sink: PageSink[Entity] | _Keep[Entity],
) -> tuple[SortKeys | None, SortKeys | None]:
    """Hand the page's entities to `sink`. Returns the sort keys of the last one when a row beyond the
    page was found (another page follows), and those of the entity the sink ended the page on, if it did."""
    last: SortKeys | None = None
    for index, (row, keys) in enumerate(rows):
        if index == limit:
            return last, None
        if sink(entity(row), keys):
            return None, keys
        last = keys
    return None, None


@dataclass
class _Keep(Generic[Entity]):
    """The sink of a page read without one: every entity is kept, for Page.items."""

    items: list[Entity]

    def __call__(self, item: Entity, keys: SortKeys, /) -> bool:
        self.items.append(item)
        return False

    def room(self) -> int | None:
        return sys.maxsize  # it takes all there is
