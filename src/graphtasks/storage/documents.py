"""Fill in the stored documents (storage/tables.py, the document and etag columns) of rows that have
none: rows written by a release before they existed, once the database is migrated, and rows the seed
generates inside the database (storage/seeding.py).

Each row's record is read back from its columns and its document made by model/documents.py, as a write
would have made it. Rows are visited in key order a chunk at a time, so the work is linear in the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, and_, bindparam, select, tuple_, update

from graphtasks.model.schema import TASK_TYPES_BY_NAME, navigation_target
from graphtasks.storage.tables import (
    CHILD_TABLES,
    ChildTable,
    child_from_row,
    document_values,
    record_from_row,
    tasks,
)

# Rows read, made and written back at a time.
CHUNK = 1000

Documents = Callable[[Row[Any]], dict[str, Any]]


def fill_documents(conn: Connection) -> int:
    """Make the document of every row without one; how many were made."""
    filled = _fill(conn, tasks, select(tasks), lambda row: document_values(record_from_row(row)))
    for navigation, child in CHILD_TABLES.items():
        filled += _fill(conn, child.table, _with_parent_type(child), _child_document(navigation, child))
    return filled


def _with_parent_type(child: ChildTable) -> Select[Any]:
    """A child's rows with their task's type, which says the child's entity type."""
    table = child.table
    parent = and_(tasks.c.tenant_id == table.c.tenant_id, tasks.c.id == table.c.task_id)
    return select(table, tasks.c.odata_type).join(tasks, parent)


def _child_document(navigation: str, child: ChildTable) -> Documents:
    def document(row: Row[Any]) -> dict[str, Any]:
        entity_type = navigation_target(TASK_TYPES_BY_NAME[row.odata_type], navigation)
        assert entity_type is not None  # noqa: S101 - the table holds only this navigation's children
        return document_values(child_from_row(row, entity_type, child))

    return document


def _fill(conn: Connection, table: Table, rows: Select[Any], document: Documents) -> int:
    key = list(table.primary_key.columns)
    write = update(table).where(and_(*(c == bindparam(f"key_{c.name}") for c in key)))
    filled, after = 0, None
    while True:
        chunk = rows.where(table.c.document.is_(None)).order_by(*key).limit(CHUNK)
        if after is not None:
            chunk = chunk.where(tuple_(*key) > tuple_(*after))
        found = conn.execute(chunk).all()
        if not found:
            return filled
        values = [{**{f"key_{c.name}": row._mapping[c] for c in key}, **document(row)} for row in found]
        conn.execute(write, values)
        filled += len(found)
        after = [found[-1]._mapping[c] for c in key]
