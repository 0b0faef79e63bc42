"""Client assertions the token service accepted, remembered until they expire (replay refusal).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_assertions",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("jti_sha256", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_assertions")
