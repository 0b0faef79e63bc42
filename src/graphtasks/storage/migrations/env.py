"""Alembic environment: runs on the connection storage/migrate.py hands over; never opens its own."""

from __future__ import annotations

from alembic import context

from graphtasks.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
