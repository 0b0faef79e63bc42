"""SqlTaskStore and SqlKeyStore: the one implementation of the storage protocols, for SQLite and
PostgreSQL alike (dialect differences stay in engine.py).

Every statement is scoped by tenant_id, so one tenant's key can never reach another's row.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update

from graphtasks.errors import NotFound
from graphtasks.model.records import TaskRecord
from graphtasks.model.schema import EntityType
from graphtasks.model.validation import Values
from graphtasks.storage.base import Page, TaskQuery
from graphtasks.storage.engine import Database
from graphtasks.storage.query import count_statement, page_statement
from graphtasks.storage.tables import record_from_row, row_values, signing_keys, tasks


def task_not_found(task_id: str) -> NotFound:
    # Intune's 404 carries no detail beyond "An error has occurred" (graph-surface.md §4.5); the id is
    # added so that a person reading the error knows which key missed.
    return NotFound(f"An error has occurred - deviceAppManagementTask '{task_id}' was not found")


def _require_possible_id(task_id: str) -> None:
    """Ids are GUIDs the server made, so anything else cannot exist; answering before the query also
    keeps characters PostgreSQL refuses (U+0000) away from it."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise task_not_found(task_id) from None


class SqlTaskStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, tenant_id: str, task: TaskRecord) -> None:
        row = {"tenant_id": tenant_id, "id": task.id, "odata_type": task.type.qualified_name}
        with self._db.write() as conn:
            conn.execute(insert(tasks).values(**row, **row_values(task.values)))

    def get(self, tenant_id: str, task_id: str) -> TaskRecord:
        with self._db.read() as conn:
            return self._get(conn, tenant_id, task_id)

    def update(self, tenant_id: str, task_id: str, changes: Values, *, task_type: EntityType) -> TaskRecord:
        with self._db.write() as conn:
            if changes:
                # The type guard makes the change a no-op (and so a 404) if the row was replaced meanwhile.
                where = self._key(tenant_id, task_id) & (tasks.c.odata_type == task_type.qualified_name)
                if conn.execute(update(tasks).where(where).values(**row_values(changes))).rowcount == 0:
                    raise task_not_found(task_id)
            return self._get(conn, tenant_id, task_id)

    def update_status(self, tenant_id: str, task_id: str, status: str, note: str | None) -> None:
        values = {**row_values({"status": status}), "status_note": note}
        with self._db.write() as conn:
            if (
                conn.execute(update(tasks).where(self._key(tenant_id, task_id)).values(**values)).rowcount
                == 0
            ):
                raise task_not_found(task_id)

    def delete(self, tenant_id: str, task_id: str) -> None:
        with self._db.write() as conn:
            if conn.execute(delete(tasks).where(self._key(tenant_id, task_id))).rowcount == 0:
                raise task_not_found(task_id)

    def query(self, query: TaskQuery) -> Page:
        statement, keys = page_statement(query, self._db.dialect)
        with self._db.read() as conn:
            rows = conn.execute(statement).all()
            total = (
                int(conn.execute(count_statement(query, self._db.dialect)).scalar_one())
                if query.count
                else None
            )
        records = [record_from_row(row) for row in rows[: query.limit]]
        next_keys = None
        if len(rows) > query.limit and query.limit > 0:
            last = rows[query.limit - 1]._mapping
            next_keys = tuple(last[f"sort_key_{i}"] for i in range(len(keys)))
        return Page(records, next_keys, total)

    def count(self, query: TaskQuery) -> int:
        with self._db.read() as conn:
            return int(conn.execute(count_statement(query, self._db.dialect)).scalar_one())

    @staticmethod
    def _key(tenant_id: str, task_id: str) -> ColumnElement[bool]:
        _require_possible_id(task_id)
        return (tasks.c.tenant_id == tenant_id) & (tasks.c.id == task_id)

    def _get(self, conn: Connection, tenant_id: str, task_id: str) -> TaskRecord:
        row = conn.execute(select(tasks).where(self._key(tenant_id, task_id))).first()
        if row is None:
            raise task_not_found(task_id)
        return record_from_row(row)


class SqlKeyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def signing_keys(self) -> list[tuple[str, str]]:
        query = select(signing_keys.c.kid, signing_keys.c.private_key_pem).order_by(
            signing_keys.c.created_at, signing_keys.c.kid
        )
        with self._db.read() as conn:
            return [(row.kid, row.private_key_pem) for row in conn.execute(query)]

    def add_signing_key(self, kid: str, private_key_pem: str) -> None:
        row = {"kid": kid, "private_key_pem": private_key_pem, "created_at": time.time_ns()}
        with self._db.write() as conn:
            conn.execute(insert(signing_keys).values(**row))
