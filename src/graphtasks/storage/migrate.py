"""Bring a database to the newest schema with the Alembic migrations in storage/migrations.

Called once at start by the server and the CLI; safe to call on an up-to-date database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from graphtasks.storage.engine import Database

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed number: it names the lock PostgreSQL holds while one instance migrates.
_MIGRATION_LOCK_ID = 7_242_011


def upgrade_to_head(database: Database) -> None:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    with database.engine.connect() as conn:
        if database.dialect == "postgresql":
            # Instances starting together on one PostgreSQL migrate one after another.
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
