"""SqlTaskStore and SqlKeyStore: the one implementation of the storage protocols, for SQLite and
PostgreSQL alike (dialect differences stay in engine.py and dialect.py).

Every statement is scoped by tenant_id, so one tenant's key can never reach another's row.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, delete, insert, select, update

from graphtasks.errors import NotFound, child_not_found, task_not_found
from graphtasks.model.records import ChildRecord, TaskRecord
from graphtasks.model.schema import EntityType
from graphtasks.model.validation import Values
from graphtasks.storage.base import (
    AppRegistration,
    ChildQuery,
    Page,
    PageRequest,
    Precondition,
    StoredCertificate,
    StoredSecret,
    TaskQuery,
    Tenant,
)
from graphtasks.storage.engine import Database
from graphtasks.storage.query import (
    Collection,
    child_collection,
    count_statement,
    page_statement,
    task_collection,
)
from graphtasks.storage.seeding import SeedRun, seed_statement
from graphtasks.storage.tables import (
    CHILD_TABLES,
    app_certificates,
    app_registrations,
    child_values,
    record_from_row,
    row_values,
    signing_keys,
    task_row,
    tasks,
    tenants,
)


def _require_possible_id(task_id: str, missing: NotFound) -> None:
    """Ids are GUIDs the server made, so anything else cannot exist; answering before the query also
    keeps characters PostgreSQL refuses (U+0000) away from it."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        raise missing from None


class SqlTaskStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # --- tasks ---

    def create(self, tenant_id: str, task: TaskRecord) -> None:
        with self._db.write() as conn:
            conn.execute(insert(tasks).values(**task_row(tenant_id, task)))

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
            finally:
                with self._db.write() as conn:
                    for index in tasks.indexes:
                        index.create(conn, checkfirst=True)
        self._db.analyze(tasks.name)

    def get(self, tenant_id: str, task_id: str) -> TaskRecord:
        with self._db.read() as conn:
            return self._get(conn, tenant_id, task_id)

    def update(
        self,
        tenant_id: str,
        task_id: str,
        changes: Values,
        *,
        task_type: EntityType,
        check: Precondition[TaskRecord] | None = None,
    ) -> TaskRecord:
        with self._db.write() as conn:
            self._check(conn, tenant_id, task_id, check)
            if changes:
                # The type guard makes the change a no-op (and so a 404) if the row was replaced meanwhile.
                where = self._key(tenant_id, task_id) & (tasks.c.odata_type == task_type.qualified_name)
                if conn.execute(update(tasks).where(where).values(**row_values(changes))).rowcount == 0:
                    raise task_not_found(task_id)
            return self._get(conn, tenant_id, task_id)

    def update_status(
        self,
        tenant_id: str,
        task_id: str,
        status: str,
        note: str | None,
        *,
        check: Precondition[TaskRecord] | None = None,
    ) -> None:
        values = {**row_values({"status": status}), "status_note": note}
        with self._db.write() as conn:
            self._check(conn, tenant_id, task_id, check)
            statement = update(tasks).where(self._key(tenant_id, task_id)).values(**values)
            if conn.execute(statement).rowcount == 0:
                raise task_not_found(task_id)

    def delete(self, tenant_id: str, task_id: str, *, check: Precondition[TaskRecord] | None = None) -> None:
        with self._db.write() as conn:
            self._check(conn, tenant_id, task_id, check)
            if conn.execute(delete(tasks).where(self._key(tenant_id, task_id))).rowcount == 0:
                raise task_not_found(task_id)
            for child in CHILD_TABLES.values():
                table = child.table
                conn.execute(
                    delete(table).where((table.c.tenant_id == tenant_id) & (table.c.task_id == task_id))
                )

    def query(self, query: TaskQuery) -> Page[TaskRecord]:
        rows, next_keys, total = self._page(task_collection(query, self._db.dialect), query)
        return Page([record_from_row(row) for row in rows], next_keys, total)

    def count(self, query: TaskQuery) -> int:
        return self._count(task_collection(query, self._db.dialect), query)

    # --- navigation collections ---

    def query_children(self, query: ChildQuery) -> Page[ChildRecord]:
        rows, next_keys, total = self._page(child_collection(query, self._db.dialect), query)
        columns = CHILD_TABLES[query.navigation].columns
        return Page(
            [ChildRecord(row.id, query.entity_type, child_values(row, columns)) for row in rows],
            next_keys,
            total,
        )

    def count_children(self, query: ChildQuery) -> int:
        return self._count(child_collection(query, self._db.dialect), query)

    def get_child(self, query: ChildQuery, child_id: str) -> ChildRecord:
        with self._db.read() as conn:
            return self._get_child(conn, query, child_id)

    def create_child(self, query: ChildQuery, child: ChildRecord) -> None:
        table, columns = self._child_table(query)
        values = {columns[name].name: value for name, value in child.values.items()}
        with self._db.write() as conn:
            # Under the write transaction, so a task deleted meanwhile cannot gain an orphan.
            parent = select(tasks.c.id).where(self._key(query.tenant_id, query.task_id)).with_for_update()
            if conn.execute(parent).first() is None:
                raise task_not_found(query.task_id)
            conn.execute(
                insert(table).values(tenant_id=query.tenant_id, task_id=query.task_id, id=child.id, **values)
            )

    def update_child(
        self,
        query: ChildQuery,
        child_id: str,
        changes: Values,
        *,
        check: Precondition[ChildRecord] | None = None,
    ) -> ChildRecord:
        table, columns = self._child_table(query)
        with self._db.write() as conn:
            self._check_child(conn, query, child_id, check)
            if changes:
                values = {columns[name].name: value for name, value in changes.items()}
                statement = update(table).where(self._child_key(query, child_id)).values(**values)
                if conn.execute(statement).rowcount == 0:
                    raise child_not_found(query.navigation, child_id)
            return self._get_child(conn, query, child_id)

    def delete_child(
        self, query: ChildQuery, child_id: str, *, check: Precondition[ChildRecord] | None = None
    ) -> None:
        table, _ = self._child_table(query)
        with self._db.write() as conn:
            self._check_child(conn, query, child_id, check)
            if conn.execute(delete(table).where(self._child_key(query, child_id))).rowcount == 0:
                raise child_not_found(query.navigation, child_id)

    def children_of(
        self, tenant_id: str, navigation: str, parents: dict[str, EntityType]
    ) -> dict[str, list[ChildRecord]]:
        child = CHILD_TABLES[navigation]
        table = child.table
        found: dict[str, list[ChildRecord]] = defaultdict(list)
        if not parents:
            return found
        statement = (
            select(table)
            .where(table.c.tenant_id == tenant_id, table.c.task_id.in_(list(parents)))
            .order_by(table.c.task_id, table.c.id)
        )
        with self._db.read() as conn:
            for row in conn.execute(statement):
                found[row.task_id].append(
                    ChildRecord(row.id, parents[row.task_id], child_values(row, child.columns))
                )
        return found

    # --- shared ---

    def _page(
        self, collection: Collection, request: PageRequest
    ) -> tuple[list[Row[Any]], tuple[Any, ...] | None, int | None]:
        statement, keys = page_statement(collection, request)
        with self._db.read() as conn:
            rows = list(conn.execute(statement).all())
            total = (
                int(conn.execute(count_statement(collection, request)).scalar_one())
                if request.count
                else None
            )
        next_keys = None
        if len(rows) > request.limit > 0:
            last = rows[request.limit - 1]._mapping
            next_keys = tuple(last[f"sort_key_{i}"] for i in range(len(keys)))
        return rows[: request.limit], next_keys, total

    def _count(self, collection: Collection, request: PageRequest) -> int:
        with self._db.read() as conn:
            return int(conn.execute(count_statement(collection, request)).scalar_one())

    @staticmethod
    def _key(tenant_id: str, task_id: str) -> ColumnElement[bool]:
        _require_possible_id(task_id, task_not_found(task_id))
        return (tasks.c.tenant_id == tenant_id) & (tasks.c.id == task_id)

    @staticmethod
    def _child_table(query: ChildQuery) -> tuple[Table, dict[str, Any]]:
        child = CHILD_TABLES[query.navigation]
        return child.table, child.columns

    @staticmethod
    def _child_key(query: ChildQuery, child_id: str) -> ColumnElement[bool]:
        _require_possible_id(child_id, child_not_found(query.navigation, child_id))
        table = CHILD_TABLES[query.navigation].table
        return (
            (table.c.tenant_id == query.tenant_id)
            & (table.c.task_id == query.task_id)
            & (table.c.id == child_id)
        )

    def _get(self, conn: Connection, tenant_id: str, task_id: str, *, lock: bool = False) -> TaskRecord:
        statement = select(tasks).where(self._key(tenant_id, task_id))
        row = conn.execute(statement.with_for_update() if lock else statement).first()
        if row is None:
            raise task_not_found(task_id)
        return record_from_row(row)

    def _get_child(
        self, conn: Connection, query: ChildQuery, child_id: str, *, lock: bool = False
    ) -> ChildRecord:
        child = CHILD_TABLES[query.navigation]
        statement = select(child.table).where(self._child_key(query, child_id))
        row = conn.execute(statement.with_for_update() if lock else statement).first()
        if row is None:
            raise child_not_found(query.navigation, child_id)
        return ChildRecord(row.id, query.entity_type, child_values(row, child.columns))

    def _check(
        self, conn: Connection, tenant_id: str, task_id: str, check: Precondition[TaskRecord] | None
    ) -> None:
        """Run a precondition on the task as it stands, locked until the transaction ends."""
        if check is not None:
            check(self._get(conn, tenant_id, task_id, lock=True))

    def _check_child(
        self, conn: Connection, query: ChildQuery, child_id: str, check: Precondition[ChildRecord] | None
    ) -> None:
        if check is not None:
            check(self._get_child(conn, query, child_id, lock=True))


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


class SqlAppStore:
    """App registrations (auth/apps.py) and their certificates, scoped by tenant like everything else."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, app: AppRegistration, secret: StoredSecret) -> None:
        """Adds the app with its secret and certificates."""
        row = _app_row(app, secret) | {"created_at": time.time_ns()}
        with self._db.write() as conn:
            conn.execute(insert(app_registrations).values(**row))
            for certificate in app.certificates:
                self._insert_certificate(conn, app.tenant_id, app.client_id, certificate)

    def find(self, tenant_id: str, client_id: str) -> tuple[AppRegistration, StoredSecret] | None:
        table = app_registrations
        query = select(table).where(table.c.tenant_id == tenant_id, table.c.client_id == client_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            certificates = self._certificates(conn, _app_key(app_certificates, tenant_id, client_id))
        app = _app(row, certificates.get((tenant_id, client_id), ()))
        return app, StoredSecret(row.secret_salt, row.secret_hash)

    def list(self, tenant_id: str | None = None) -> list[AppRegistration]:
        table = app_registrations
        query = select(table).order_by(table.c.tenant_id, table.c.created_at, table.c.client_id)
        certificates_where = None
        if tenant_id is not None:
            query = query.where(table.c.tenant_id == tenant_id)
            certificates_where = app_certificates.c.tenant_id == tenant_id
        with self._db.read() as conn:
            certificates = self._certificates(conn, certificates_where)
            rows = conn.execute(query).all()
        return [_app(row, certificates.get((row.tenant_id, row.client_id), ())) for row in rows]

    def remove(self, tenant_id: str, client_id: str) -> bool:
        """Removes the app and its certificates."""
        with self._db.write() as conn:
            conn.execute(delete(app_certificates).where(_app_key(app_certificates, tenant_id, client_id)))
            statement = delete(app_registrations).where(_app_key(app_registrations, tenant_id, client_id))
            return bool(conn.execute(statement).rowcount)

    def replace_secret(self, tenant_id: str, client_id: str, secret: StoredSecret, secret_hint: str) -> bool:
        table = app_registrations
        values = {"secret_salt": secret.salt, "secret_hash": secret.digest, "secret_hint": secret_hint}
        with self._db.write() as conn:
            statement = update(table).where(_app_key(table, tenant_id, client_id)).values(**values)
            return bool(conn.execute(statement).rowcount)

    def add_certificate(self, tenant_id: str, client_id: str, certificate: StoredCertificate) -> bool:
        """Adds a certificate to an existing app (False if there is no such app). A certificate the app
        already has stays as it is, so adding one is safe to repeat."""
        with self._db.write() as conn:
            # Under the write transaction, so an app removed meanwhile cannot gain an orphan.
            app = select(app_registrations.c.client_id).where(
                _app_key(app_registrations, tenant_id, client_id)
            )
            if conn.execute(app.with_for_update()).first() is None:
                return False
            known = select(app_certificates.c.sha256_thumbprint).where(
                _app_key(app_certificates, tenant_id, client_id),
                app_certificates.c.sha256_thumbprint == certificate.sha256_thumbprint,
            )
            if conn.execute(known).first() is None:
                self._insert_certificate(conn, tenant_id, client_id, certificate)
            return True

    def remove_certificate(self, tenant_id: str, client_id: str, thumbprint: str) -> bool:
        """Removes the app's certificate with this SHA-1 or SHA-256 thumbprint (upper-case hex)."""
        table = app_certificates
        column = table.c.sha1_thumbprint if len(thumbprint) == 40 else table.c.sha256_thumbprint
        with self._db.write() as conn:
            statement = delete(table).where(_app_key(table, tenant_id, client_id), column == thumbprint)
            return bool(conn.execute(statement).rowcount)

    @staticmethod
    def _insert_certificate(
        conn: Connection, tenant_id: str, client_id: str, certificate: StoredCertificate
    ) -> None:
        row = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "sha256_thumbprint": certificate.sha256_thumbprint,
            "sha1_thumbprint": certificate.sha1_thumbprint,
            "certificate_pem": certificate.pem,
            "added_at": time.time_ns(),
        }
        conn.execute(insert(app_certificates).values(**row))

    @staticmethod
    def _certificates(
        conn: Connection, where: ColumnElement[bool] | None
    ) -> dict[tuple[str, str], tuple[StoredCertificate, ...]]:
        """The certificates `where` selects (all, if None), by (tenant id, client id), oldest first."""
        table = app_certificates
        query = select(table).order_by(table.c.added_at, table.c.sha256_thumbprint)
        if where is not None:
            query = query.where(where)
        found: dict[tuple[str, str], list[StoredCertificate]] = defaultdict(list)
        for row in conn.execute(query):
            certificate = StoredCertificate(row.sha1_thumbprint, row.sha256_thumbprint, row.certificate_pem)
            found[(row.tenant_id, row.client_id)].append(certificate)
        return {key: tuple(certificates) for key, certificates in found.items()}


def _app_key(table: Table, tenant_id: str, client_id: str) -> ColumnElement[bool]:
    return (table.c.tenant_id == tenant_id) & (table.c.client_id == client_id)


def _app_row(app: AppRegistration, secret: StoredSecret) -> dict[str, Any]:
    return {
        "tenant_id": app.tenant_id,
        "client_id": app.client_id,
        "display_name": app.display_name,
        "permissions": " ".join(app.permissions),
        "secret_salt": secret.salt,
        "secret_hash": secret.digest,
        "secret_hint": app.secret_hint,
    }


def _app(row: Row[Any], certificates: tuple[StoredCertificate, ...]) -> AppRegistration:
    return AppRegistration(
        row.tenant_id,
        row.client_id,
        row.display_name,
        tuple(row.permissions.split()),
        row.secret_hint,
        certificates,
    )


class SqlTenantStore:
    """The tenant registry (storage/tables.py: tenants)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def put(self, tenant: Tenant) -> None:
        """Adds the tenant, or updates its name and licence."""
        with self._db.write() as conn:
            where = tenants.c.tenant_id == tenant.tenant_id
            values = {"display_name": tenant.display_name, "intune_license": tenant.intune_license}
            if conn.execute(update(tenants).where(where).values(**values)).rowcount == 0:
                conn.execute(
                    insert(tenants).values(tenant_id=tenant.tenant_id, created_at=time.time_ns(), **values)
                )

    def find(self, tenant_id: str) -> Tenant | None:
        with self._db.read() as conn:
            row = conn.execute(select(tenants).where(tenants.c.tenant_id == tenant_id)).first()
        return None if row is None else Tenant(row.tenant_id, row.display_name, bool(row.intune_license))

    def list(self) -> list[Tenant]:
        with self._db.read() as conn:
            rows = conn.execute(select(tenants).order_by(tenants.c.created_at, tenants.c.tenant_id))
            return [Tenant(row.tenant_id, row.display_name, bool(row.intune_license)) for row in rows]

    def remove(self, tenant_id: str) -> bool:
        with self._db.write() as conn:
            return bool(conn.execute(delete(tenants).where(tenants.c.tenant_id == tenant_id)).rowcount)
