"""The first schema: tasks (all task types in one table) and the server's signing keys.

A frozen copy of storage/tables.py as of this version; tests/integration/test_schema.py checks that
the migrated database and tables.py agree.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, TEXT, nullable=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("odata_type", sa.String(100), nullable=False),
        _text("display_name"),
        _text("description"),
        sa.Column("created_date_time", sa.BigInteger(), nullable=False),
        sa.Column("due_date_time", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.SmallInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        _text("creator"),
        _text("creator_notes"),
        _text("assigned_to"),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("endpoint_security_policy", sa.SmallInteger(), nullable=True),
        sa.Column("applicable_platform", sa.SmallInteger(), nullable=True),
        sa.Column("endpoint_security_policy_profile", sa.SmallInteger(), nullable=True),
        _text("insights"),
        sa.Column("managed_device_count", sa.Integer(), nullable=True),
        sa.Column("intended_settings", JSON_LIST, nullable=True),
        _text("app_name"),
        _text("app_publisher"),
        _text("app_version"),
        sa.Column("mitigation_type", sa.SmallInteger(), nullable=True),
        sa.Column("mobile_app_count", sa.Integer(), nullable=True),
        _text("remediation"),
        sa.Column("unmanaged_devices", JSON_LIST, nullable=True),
        _text("status_note"),
    )
    op.create_index("ix_tasks_tenant_created", "tasks", ["tenant_id", "created_date_time", "id"])
    op.create_index("ix_tasks_tenant_status", "tasks", ["tenant_id", "status", "id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_index("ix_tasks_tenant_status", table_name="tasks")
    op.drop_index("ix_tasks_tenant_created", table_name="tasks")
    op.drop_table("tasks")
