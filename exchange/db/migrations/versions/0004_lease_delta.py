"""lease delta: what partition selection spends of a lease's delta allowance

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("query_delta_spent_pico", sa.BigInteger(), nullable=False, server_default="0")
        )
    # The default only fills existing leases; new rows get theirs from the model.
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.alter_column("query_delta_spent_pico", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("query_delta_spent_pico")
