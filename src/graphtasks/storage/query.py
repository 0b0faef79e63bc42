"""Build the SELECT for one page of a collection (tasks, or a task's navigation collection): filter,
type cast, order, keyset continuation.

Sorting follows OData on both backends alike: nulls before values ascending (after them descending),
enums by member value, strings by code point. Every order is made total with `id` as the last key,
in the direction of the last $orderby key, so one index serves both; without $orderby tasks come
oldest first (createdDateTime, then id) and navigation entities by id. Pages continue by keyset
("after these key values"), never by offset, so a deep page costs what the first one does; $skip
is applied only to the first page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, func, or_, select, tuple_

from graphtasks.errors import BadRequest
from graphtasks.model.schema import DEVICE_APP_MANAGEMENT_TASK, TASK_TYPES, ComplexType
from graphtasks.odata.options import OrderKey
from graphtasks.odata.paging import KeyValue
from graphtasks.storage.base import ChildQuery, PageRequest, TaskQuery
from graphtasks.storage.filters import FilterTranslator, Source
from graphtasks.storage.tables import CHILD_TABLES, COLUMNS, tasks

_OLDEST_FIRST = (OrderKey(("createdDateTime",)),)


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


def page_statement(collection: Collection, request: PageRequest) -> tuple[Select[Any], list[SortKey]]:
    translator = FilterTranslator(collection.source)
    keys = sort_keys(translator, request.orderby or collection.default_order, collection.table)
    conditions = [*collection.conditions, *_filter(translator, request)]
    if request.after is not None:
        conditions.append(after(keys, request.after))
    statement = (
        select(collection.table, *(key.sql.label(f"sort_key_{i}") for i, key in enumerate(keys)))
        .where(*conditions)
        .order_by(*(_order_clause(key) for key in keys))
        .limit(request.limit + 1)  # one row more than asked tells whether another page exists
    )
    if request.skip and request.after is None:
        statement = statement.offset(request.skip)
    return statement, keys


def count_statement(collection: Collection, request: PageRequest) -> Select[Any]:
    translator = FilterTranslator(collection.source)
    conditions = [*collection.conditions, *_filter(translator, request)]
    return select(func.count()).select_from(collection.table).where(*conditions)


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
