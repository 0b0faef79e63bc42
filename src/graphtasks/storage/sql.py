"""SqlTaskStore: the one implementation of the task store protocol (tasks and their navigation
collections), for SQLite and PostgreSQL alike (dialect differences stay in engine.py and dialect.py).
The server's keys, app registrations and tenants live in registry.py.

Each write is a unit handed to Database.run_write, which may run it in a transaction shared with
concurrent writes (group commit): so a unit touches nothing but its connection, and may be run twice.

Every statement is scoped by tenant_id, so one tenant's key can never reach another's row.

A page is read row by row, each row made a record only when it is reached; given a sink
(storage/base.py), the store hands each record over at once and stops reading where the sink ends the
page (storage/query.py, read_page).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Table,
    delete,
    literal,
    select,
    tuple_,
)

from graphtasks.errors import Conflict, child_not_found, task_not_found
from graphtasks.model.records import ChildRecord, StoredDocument, StoredTask, TaskRecord
from graphtasks.model.schema import navigation_target
from graphtasks.model.types import EntityType
from graphtasks.model.validation import Values
from graphtasks.storage.base import ChildQuery, Page, PageRequest, PageSink, Precondition, TaskQuery
from graphtasks.storage.documents import fill_documents
from graphtasks.storage.engine import Database
from graphtasks.storage.query import (
    Collection,
    Entity,
    child_collection,
    children_statement,
    read_count,
    read_page,
    task_collection,
)
from graphtasks.storage.seeding import SeedRun, seed_statement
from graphtasks.storage.statements import (
    CHILD_STATEMENTS,
    DELETE_TASK,
    INSERT_TASK,
    LOCK_PARENT,
    LOCK_TASK,
    SELECT_DOCUMENT,
    SELECT_TASK,
    UPDATE_TASK,
    UPDATE_TASK_OF_TYPE,
    child_key,
    task_key,
)
from graphtasks.storage.tables import (
    CHILD_TABLES,
    COLUMNS,
    DOCUMENT_COLUMNS,
    child_from_row,
    child_row,
    child_row_values,
    document_from_row,
    document_values,
    record_from_row,
    row_values,
    task_row,
    tasks,
)

# Tasks an import writes per statement: few enough for SQLite's bound-parameter limit (32,766) with every
# column of a task bound, many enough that the statements cost little.
_IMPORT_CHUNK = 200


def _of_tenant(statement: Delete, table: Table, tenant_id: str | None) -> Delete:
    return statement if tenant_id is None else statement.where(table.c.tenant_id == tenant_id)


def _found(rows: Sequence[tuple[Any, ...]], task_id: str) -> tuple[Any, ...]:
    """The row a read of one task by its key found; a 404 when there is none."""
    if not rows:
        raise task_not_found(task_id)
    return rows[0]


def _child_found(rows: Sequence[tuple[Any, ...]], query: ChildQuery, child_id: str) -> ChildRecord:
    """The child a read of one child by its key found; a 404 when there is none."""
    if not rows:
        raise child_not_found(query.navigation, child_id)
    return child_from_row(rows[0], query.entity_type, CHILD_TABLES[query.navigation])


class SqlTaskStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # --- tasks ---

    def create(self, tenant_id: str, task: TaskRecord) -> StoredDocument:
        row = task_row(tenant_id, task)

        def unit(conn: Connection) -> None:
            self._db.run_prepared(conn, INSERT_TASK, row)

        self._db.run_write(unit)
        return StoredDocument(task.id, task.type, row["document"], row["etag"])

    def seed(self, run: SeedRun, count: int, *, chunk: int = 250_000) -> None:
        """Generate `count` realistic tasks in the database (graphtasks seed, storage/seeding.py). The
        task indexes are dropped first and rebuilt at the end, which is several times faster than
        maintaining them row by row; meant for a database no server is using meanwhile."""
        with self._db.bulk_load():
            with self._db.write() as conn:
                for index in tasks.indexes:
                    index.drop(conn, checkfirst=True)
            try:
                for first in range(1, count + 1, chunk):
                    last = min(first + chunk - 1, count)
                    with self._db.write() as conn:
                        conn.execute(seed_statement(self._db.dialect, run, first=first, last=last))
                        fill_documents(conn)
            finally:
                with self._db.write() as conn:
                    for index in tasks.indexes:
                        index.create(conn, checkfirst=True)
        self._db.analyze(tasks.name)

    def get(self, tenant_id: str, task_id: str) -> TaskRecord:
        return record_from_row(_found(self._db.read_rows(SELECT_TASK, task_key(tenant_id, task_id)), task_id))

    def document(self, tenant_id: str, task_id: str) -> StoredDocument:
        rows = self._db.read_rows(SELECT_DOCUMENT, task_key(tenant_id, task_id))
        return document_from_row(_found(rows, task_id))

    def update(
        self,
        tenant_id: str,
        task_id: str,
        changes: Values,
        *,
        task_type: EntityType,
        check: Precondition[TaskRecord] | None = None,
    ) -> TaskRecord:
        key = {**task_key(tenant_id, task_id), "key_type": task_type.qualified_name}

        def unit(conn: Connection) -> TaskRecord:
            current = self._current(conn, tenant_id, task_id, check)
            if not changes:
                return current
            updated = dataclasses.replace(current, values={**current.values, **changes})
            values = row_values(changes) | document_values(updated)
            updating = self._db.run_prepared(conn, UPDATE_TASK_OF_TYPE, {**key, **values}, sets=tuple(values))
            if updating.rowcount == 0:
                raise task_not_found(task_id)
            return updated

        return self._db.run_write(unit)

    def update_status(
        self,
        tenant_id: str,
        task_id: str,
        status: str,
        note: str | None,
        *,
        check: Precondition[TaskRecord] | None = None,
    ) -> None:
        key = task_key(tenant_id, task_id)

        def unit(conn: Connection) -> None:
            current = self._current(conn, tenant_id, task_id, check)
            updated = dataclasses.replace(
                current, values={**current.values, "status": status}, status_note=note
            )
            values = row_values({"status": status}) | {"status_note": note} | document_values(updated)
            if self._db.run_prepared(conn, UPDATE_TASK, {**key, **values}, sets=tuple(values)).rowcount == 0:
                raise task_not_found(task_id)

        self._db.run_write(unit)

    def delete(self, tenant_id: str, task_id: str, *, check: Precondition[TaskRecord] | None = None) -> None:
        def unit(conn: Connection) -> None:
            if check is not None:
                self._current(conn, tenant_id, task_id, check)
            if self._db.run_prepared(conn, DELETE_TASK, task_key(tenant_id, task_id)).rowcount == 0:
                raise task_not_found(task_id)
            for statements in CHILD_STATEMENTS.values():
                of_task = {"key_tenant": tenant_id, "key_task": task_id}
                self._db.run_prepared(conn, statements.delete_of_task, of_task)

        self._db.run_write(unit)

    def query(self, query: TaskQuery) -> Page[TaskRecord]:
        return self._page(task_collection(query, self._db.dialect), query, record_from_row, query.sink)

    def query_documents(self, query: TaskQuery, sink: PageSink[StoredDocument]) -> Page[StoredDocument]:
        collection = dataclasses.replace(task_collection(query, self._db.dialect), columns=DOCUMENT_COLUMNS)
        return self._page(collection, query, document_from_row, sink)

    def count(self, query: TaskQuery) -> int:
        return self._count(task_collection(query, self._db.dialect), query)

    # --- navigation collections ---

    def query_children(self, query: ChildQuery) -> Page[ChildRecord]:
        table = CHILD_TABLES[query.navigation]

        def child(row: tuple[Any, ...]) -> ChildRecord:
            return child_from_row(row, query.entity_type, table)

        return self._page(child_collection(query, self._db.dialect), query, child, query.sink)

    def count_children(self, query: ChildQuery) -> int:
        return self._count(child_collection(query, self._db.dialect), query)

    def get_child(self, query: ChildQuery, child_id: str) -> ChildRecord:
        rows = self._db.read_rows(CHILD_STATEMENTS[query.navigation].select, child_key(query, child_id))
        return _child_found(rows, query, child_id)

    def create_child(self, query: ChildQuery, child: ChildRecord) -> None:
        row = child_row(query.tenant_id, query.task_id, query.navigation, child)

        def unit(conn: Connection) -> None:
            # Under the write transaction, so a task deleted meanwhile cannot gain an orphan.
            if conn.execute(LOCK_PARENT, task_key(query.tenant_id, query.task_id)).first() is None:
                raise task_not_found(query.task_id)
            conn.execute(CHILD_STATEMENTS[query.navigation].insert, row)

        self._db.run_write(unit)

    def update_child(
        self,
        query: ChildQuery,
        child_id: str,
        changes: Values,
        *,
        check: Precondition[ChildRecord] | None = None,
    ) -> ChildRecord:
        def unit(conn: Connection) -> ChildRecord:
            current = self._current_child(conn, query, child_id, check)
            if not changes:
                return current
            updated = dataclasses.replace(current, values={**current.values, **changes})
            values = child_row_values(query.navigation, changes) | document_values(updated)
            statement = CHILD_STATEMENTS[query.navigation].update
            if conn.execute(statement, {**child_key(query, child_id), **values}).rowcount == 0:
                raise child_not_found(query.navigation, child_id)
            return updated

        return self._db.run_write(unit)

    def delete_child(
        self, query: ChildQuery, child_id: str, *, check: Precondition[ChildRecord] | None = None
    ) -> None:
        def unit(conn: Connection) -> None:
            if check is not None:
                self._current_child(conn, query, child_id, check)
            statement = CHILD_STATEMENTS[query.navigation].delete
            if conn.execute(statement, child_key(query, child_id)).rowcount == 0:
                raise child_not_found(query.navigation, child_id)

        self._db.run_write(unit)

    def children_of(
        self, tenant_id: str, navigation: str, parents: dict[str, EntityType], *, limit: int | None = None
    ) -> dict[str, list[ChildRecord]]:
        child = CHILD_TABLES[navigation]
        found: dict[str, list[ChildRecord]] = defaultdict(list)
        if not parents:
            return found
        statement = children_statement(child.table, tenant_id, list(parents), limit)
        parent = child.positions["task_id"]
        with self._db.driver_read() as read:
            for row in read.all(statement):
                found[row[parent]].append(child_from_row(row, parents[row[parent]], child))
        return found

    # --- a tenant's whole state ---

    def tasks_of(
        self, tenant_id: str, *, after: tuple[int, str] | None = None, limit: int = 500
    ) -> list[StoredTask]:
        created = COLUMNS["createdDateTime"]
        statement = select(tasks).where(tasks.c.tenant_id == tenant_id)
        if after is not None:
            statement = statement.where(
                tuple_(created, tasks.c.id) > tuple_(literal(after[0]), literal(after[1]))
            )
        with self._db.driver_read() as read:
            rows = read.all(statement.order_by(created, tasks.c.id).limit(limit))
        stored = {record.id: StoredTask(record) for record in map(record_from_row, rows)}
        for task in stored.values():
            task.children.update((navigation.name, []) for navigation in task.record.type.navigation)
        for navigation in CHILD_TABLES:
            parents = {
                task_id: target
                for task_id, task in stored.items()
                if (target := navigation_target(task.record.type, navigation)) is not None
            }
            for task_id, children in self.children_of(tenant_id, navigation, parents).items():
                stored[task_id].children[navigation] = children
        return list(stored.values())

    def add_tasks(self, tenant_id: str, stored: Sequence[StoredTask], *, skip_existing: bool = False) -> int:
        added = 0
        with self._db.write() as conn:
            for start in range(0, len(stored), _IMPORT_CHUNK):
                chunk = stored[start : start + _IMPORT_CHUNK]
                ids = [task.record.id for task in chunk]
                taken = set(
                    conn.execute(
                        select(tasks.c.id).where(tasks.c.tenant_id == tenant_id, tasks.c.id.in_(ids))
                    ).scalars()
                )
                if taken and not skip_existing:
                    raise Conflict(
                        f"The tenant has a task with the id {min(taken)} already; nothing was written."
                    )
                chunk = [task for task in chunk if task.record.id not in taken]
                added += len(chunk)
                if not chunk:
                    continue
                rows = [task_row(tenant_id, task.record) for task in chunk]
                conn.execute(INSERT_TASK, rows)
                for navigation in CHILD_TABLES:
                    child_rows = [
                        child_row(tenant_id, task.record.id, navigation, child)
                        for task in chunk
                        for child in task.children.get(navigation, [])
                    ]
                    if child_rows:
                        conn.execute(CHILD_STATEMENTS[navigation].insert, child_rows)
        return added

    def remove_tasks(self, tenant_id: str | None) -> int:
        with self._db.write() as conn:
            for child in CHILD_TABLES.values():
                conn.execute(_of_tenant(delete(child.table), child.table, tenant_id))
            return int(conn.execute(_of_tenant(delete(tasks), tasks, tenant_id)).rowcount)

    # --- shared ---

    def _page(
        self,
        collection: Collection,
        request: PageRequest,
        entity: Callable[[tuple[Any, ...]], Entity],
        sink: PageSink[Entity] | None,
    ) -> Page[Entity]:
        with self._db.driver_read() as read:
            total = read_count(read, collection, request) if request.count else None
            lazy = self._db.dialect == "sqlite"  # storage/query.py, chunk_rows
            items, next_keys = read_page(read, collection, request, entity, sink, lazy=lazy)
        return Page(items, next_keys, total)

    def _count(self, collection: Collection, request: PageRequest) -> int:
        with self._db.driver_read() as read:
            return read_count(read, collection, request)

    def _locked(self, conn: Connection, tenant_id: str, task_id: str) -> TaskRecord:
        """The task, locked until the transaction ends."""
        rows = self._db.run_prepared(conn, LOCK_TASK, task_key(tenant_id, task_id)).rows
        return record_from_row(_found(rows, task_id))

    def _current(
        self, conn: Connection, tenant_id: str, task_id: str, check: Precondition[TaskRecord] | None
    ) -> TaskRecord:
        """The task as it stands, locked until the transaction ends, after its precondition if any."""
        current = self._locked(conn, tenant_id, task_id)
        if check is not None:
            check(current)
        return current

    def _current_child(
        self, conn: Connection, query: ChildQuery, child_id: str, check: Precondition[ChildRecord] | None
    ) -> ChildRecord:
        lock = CHILD_STATEMENTS[query.navigation].lock
        rows = self._db.run_prepared(conn, lock, child_key(query, child_id)).rows
        current = _child_found(rows, query, child_id)
        if check is not None:
            check(current)
        return current
