"""The statements of the task store (storage/sql.py) that every request makes, built once, and the
parameters of their keys.

Built per request, a statement cost more Python than SQLite takes to run it (its clauses, then
SQLAlchemy's cache key over them). One object per statement keeps its cache key and compiled form, and
the driver sees the same SQL each time and reuses its prepared statement (sqlite3's statement cache;
psycopg prepares a statement it has run a few times). The key's parameters are not named after
columns: an UPDATE's SET clause takes those from the parameters given.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Select, Table, Update, bindparam, delete, insert, select, update

from graphtasks.errors import NotFound, child_not_found, task_not_found
from graphtasks.storage.base import ChildQuery
from graphtasks.storage.tables import CHILD_TABLES, DOCUMENT_COLUMNS, tasks

TASK_KEY = (tasks.c.tenant_id == bindparam("key_tenant")) & (tasks.c.id == bindparam("key_id"))
SELECT_TASK = select(tasks).where(TASK_KEY)
LOCK_TASK = SELECT_TASK.with_for_update()
SELECT_DOCUMENT: Select[Any] = select(*DOCUMENT_COLUMNS).where(TASK_KEY)
LOCK_PARENT = select(tasks.c.id).where(TASK_KEY).with_for_update()
INSERT_TASK = insert(tasks)
# The type guard makes a change a no-op (and so a 404) if the row was replaced meanwhile.
UPDATE_TASK_OF_TYPE = update(tasks).where(TASK_KEY & (tasks.c.odata_type == bindparam("key_type")))
UPDATE_TASK = update(tasks).where(TASK_KEY)
DELETE_TASK = delete(tasks).where(TASK_KEY)


@dataclass(frozen=True)
class ChildStatements:
    """The statements on one navigation collection's table, built once like the task ones."""

    select: Select[Any]
    lock: Select[Any]
    insert: Insert
    update: Update
    delete: Delete
    delete_of_task: Delete


def child_statements(table: Table) -> ChildStatements:
    of_task = (table.c.tenant_id == bindparam("key_tenant")) & (table.c.task_id == bindparam("key_task"))
    key = of_task & (table.c.id == bindparam("key_id"))
    select_child = select(table).where(key)
    return ChildStatements(
        select=select_child,
        lock=select_child.with_for_update(),
        insert=insert(table),
        update=update(table).where(key),
        delete=delete(table).where(key),
        delete_of_task=delete(table).where(of_task),
    )


CHILD_STATEMENTS = {navigation: child_statements(child.table) for navigation, child in CHILD_TABLES.items()}


def task_key(tenant_id: str, task_id: str) -> dict[str, str]:
    """The parameters of TASK_KEY; an id that cannot exist is a 404 before any query."""
    require_possible_id(task_id, task_not_found)
    return {"key_tenant": tenant_id, "key_id": task_id}


def child_key(query: ChildQuery, child_id: str) -> dict[str, str]:
    """The parameters of a child statement's key; an id that cannot exist is a 404 before any query."""
    require_possible_id(child_id, lambda child: child_not_found(query.navigation, child))
    return {"key_tenant": query.tenant_id, "key_task": query.task_id, "key_id": child_id}


_HYPHENATED_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def require_possible_id(task_id: str, missing: Callable[[str], NotFound]) -> None:
    """Ids are GUIDs the server made, so anything else cannot exist; answering before the query also
    keeps characters PostgreSQL refuses (U+0000) away from it."""
    if _HYPHENATED_GUID.fullmatch(task_id):  # the form every id is made in: no need to parse it
        return
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise missing(task_id) from None
