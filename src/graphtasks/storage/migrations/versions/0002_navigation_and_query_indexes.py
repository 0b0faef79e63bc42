"""The derived types' navigation collections (managed_devices, mobile_apps) and the indexes that back
the common $filter and $orderby keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_FILTER_COLUMNS = ("status", "priority", "category", "odata_type")
_ORDER_COLUMNS = ("due_date_time", "display_name", "assigned_to")


def _keys() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(36), primary_key=True) for name in ("tenant_id", "task_id", "id")]


def upgrade() -> None:
    op.create_table(
        "managed_devices",
        *_keys(),
        sa.Column("managed_device_id", TEXT, nullable=True),
        sa.Column("display_name", TEXT, nullable=True),
        sa.Column("last_sync_date_time", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "mobile_apps",
        *_keys(),
        sa.Column("mobile_app_id", TEXT, nullable=True),
        sa.Column("display_name", TEXT, nullable=True),
        sa.Column("created_date_time", sa.BigInteger(), nullable=False),
        sa.Column("last_modified_date_time", sa.BigInteger(), nullable=False),
        sa.Column("mobile_app_type", TEXT, nullable=True),
        sa.Column("version", TEXT, nullable=True),
    )
    op.drop_index("ix_tasks_tenant_status", table_name="tasks")
    for column in _FILTER_COLUMNS:
        op.create_index(
            f"ix_tasks_tenant_{column}_created", "tasks", ["tenant_id", column, "created_date_time", "id"]
        )
    for column in _ORDER_COLUMNS:
        op.create_index(f"ix_tasks_tenant_{column}", "tasks", ["tenant_id", column, "id"])


def downgrade() -> None:
    for column in _ORDER_COLUMNS:
        op.drop_index(f"ix_tasks_tenant_{column}", table_name="tasks")
    for column in _FILTER_COLUMNS:
        op.drop_index(f"ix_tasks_tenant_{column}_created", table_name="tasks")
    op.create_index("ix_tasks_tenant_status", "tasks", ["tenant_id", "status", "id"])
    op.drop_table("mobile_apps")
    op.drop_table("managed_devices")
