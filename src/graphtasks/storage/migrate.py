"""Bring a database to the newest schema with the Alembic migrations in storage/migrations.

Called once at start by the server and the CLI; safe to call on an up-to-date database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from graphtasks.storage.documents import fill_documents
from graphtasks.storage.engine import Database

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed number: it names the lock PostgreSQL holds while one instance migrates.
_MIGRATION_LOCK_ID = 7_242_011
# The migration that added the stored documents: a database older than it has rows to fill in.
_STORED_DOCUMENTS = "0008"


def upgrade_to_head(database: Database) -> None:
    upgrade(database, "head")


def upgrade(database: Database, revision: str) -> None:
    """Migrate to `revision`: "head", or an older one to make a database as an earlier release left it."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    with database.engine.connect() as conn:
        # Processes starting together on one database migrate one after another: PostgreSQL's advisory
        # lock; on SQLite the database's write lock, taken up front (the driver is in autocommit mode,
        # so the whole upgrade is this one transaction), which a second process waits for.
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = conn
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(config, revision)
        if revision == "head" and before is not None and before < _STORED_DOCUMENTS:
            fill_documents(conn)
        if database.dialect == "postgresql":
            conn.commit()
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
        else:
            conn.exec_driver_sql("COMMIT")
