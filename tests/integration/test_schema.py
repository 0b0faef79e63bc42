"""The Alembic migrations build exactly the schema storage/tables.py describes, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from graphtasks.storage.engine import open_database
from graphtasks.storage.migrate import upgrade_to_head
from graphtasks.storage.tables import metadata
from tests.support.databases import database


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migrated_schema_matches_the_tables(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        db = open_database(url)
        try:
            upgrade_to_head(db)
            upgrade_to_head(db)  # a second start finds nothing to do
            with db.engine.connect() as conn:
                differences = compare_metadata(MigrationContext.configure(conn), metadata)
                indexes = {i["name"] for i in inspect(conn).get_indexes("tasks")}
            assert differences == []
            assert {"ix_tasks_tenant_created", "ix_tasks_tenant_status_created"} <= indexes
        finally:
            db.dispose()
