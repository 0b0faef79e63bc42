"""The tenant registry, with each tenant's Intune licence; the default development tenant, licensed.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# config.DEFAULT_TENANT, frozen here as migrations must be.
_DEFAULT_TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"


def upgrade() -> None:
    table = op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("intune_license", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(
        table,
        [{"tenant_id": _DEFAULT_TENANT, "display_name": "Contoso (development)", "intune_license": True,
          "created_at": time.time_ns()}],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("tenants")
