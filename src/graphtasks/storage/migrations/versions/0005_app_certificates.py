"""Client certificates of app registrations: thumbprints and the public certificate, per app.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_certificates",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("sha256_thumbprint", sa.String(64), primary_key=True),
        sa.Column("sha1_thumbprint", sa.String(40), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_certificates")
