"""Each task's and child's Graph JSON document and ETag, kept beside its columns (storage/documents.py
fills them for the rows of a database written before, once this migration has run).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("tasks", "managed_devices", "mobile_apps")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("document", sa.LargeBinary(), nullable=True))
        op.add_column(table, sa.Column("etag", sa.String(40), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "etag")
        op.drop_column(table, "document")
