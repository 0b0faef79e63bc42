"""Alembic migration scripts for the graphtasks schema."""
