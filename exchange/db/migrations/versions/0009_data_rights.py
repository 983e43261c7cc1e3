"""data rights register: holding, processing and product operation rights of a dataset,
each with its holder and evidence; revenue shares follow the registered holders

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import exchange.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_DATETIME = exchange.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_rights",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("right", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["registered_by"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["revoked_by"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_rights_dataset_id", "data_rights", ["dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_data_rights_dataset_id", table_name="data_rights")
    op.drop_table("data_rights")
