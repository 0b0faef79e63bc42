"""The server's identity registry, for SQLite and PostgreSQL alike: its token-signing keys
(SqlKeyStore), the app registrations with their hashed secrets and certificates (SqlAppStore), the
client assertions they used (SqlAssertionStore), and the tenant registry (SqlTenantStore). It knows
nothing of HTTP or of tokens; the tasks live in sql.py.

Apps and their certificates are scoped by tenant_id, like everything else.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from graphtasks.storage.base import AppRegistration, StoredCertificate, StoredSecret, Tenant
from graphtasks.storage.engine import Database
from graphtasks.storage.tables import (
    app_certificates,
    app_registrations,
    client_assertions,
    signing_keys,
    tenants,
)

# Any fixed number other than storage/migrate.py's: it names the lock held while the first key is added.
_KEY_CREATION_LOCK_ID = 7_242_012


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
        """Adds the server's first key, unless the store already holds one: of several instances
        starting together on an empty database, each makes a key and only the first one's is kept, so
        all of them sign with, and derive their secrets from, one key (callers read the keys back).

        The check and the insert are one transaction, which those of other processes queue behind:
        Database.exclusive_write (a plain read under READ COMMITTED would let two PostgreSQL
        transactions both see an empty table).
        """
        row = {"kid": kid, "private_key_pem": private_key_pem, "created_at": time.time_ns()}
        with self._db.exclusive_write(_KEY_CREATION_LOCK_ID) as conn:
            if conn.execute(select(signing_keys.c.kid).limit(1)).first() is None:
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


class SqlAssertionStore:
    """The client assertions accepted (storage/tables.py: client_assertions); auth/token_service.py's
    AssertionLedger."""

    def __init__(self, database: Database) -> None:
        self._db = database
        insert_for = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        self._insert_new = insert_for(client_assertions).on_conflict_do_nothing()

    def first_use(
        self, tenant_id: str, client_id: str, jti_digest: str, *, address: str, expires_at: int
    ) -> str:
        """Records the use unless the assertion is known; the address of its first use. The tenant's
        expired assertions are forgotten first, so the table holds what is still good and no more.

        Two first uses at once: on PostgreSQL the second INSERT waits for the first's transaction and
        then inserts nothing, and its SELECT (a new snapshot under READ COMMITTED) reads the first's row;
        SQLite runs one write transaction at a time."""
        table = client_assertions
        key = _app_key(table, tenant_id, client_id) & (table.c.jti_sha256 == jti_digest)
        row = {"tenant_id": tenant_id, "client_id": client_id, "jti_sha256": jti_digest,
               "address": address, "expires_at": expires_at}  # fmt: skip
        with self._db.write() as conn:
            expired = (table.c.tenant_id == tenant_id) & (table.c.expires_at < int(time.time()))
            conn.execute(delete(table).where(expired))
            conn.execute(self._insert_new, row)
            first: str = conn.execute(select(table.c.address).where(key)).scalar_one()
        return first


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
