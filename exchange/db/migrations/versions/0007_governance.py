"""governance: authority levels and duties of accounts, listing review and disclosure,
public objections, and the steps of lease approval chains

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import exchange.db.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_DATETIME = exchange.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("authority_level", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("duties", sa.JSON(), nullable=True))
    with op.batch_alter_table("offers") as batch:
        batch.add_column(
            sa.Column(
                "review_status", sa.String(length=20), server_default="listed", nullable=False
            )
        )
        batch.add_column(sa.Column("reviewed_by", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("disclosure_ends_at", UTC_DATETIME, nullable=True))
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("approval_chain", sa.JSON(), nullable=True))
    op.create_table(
        "objections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("offer_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"]),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_objections_offer_id", "objections", ["offer_id"])
    op.create_index("ix_objections_dataset_id", "objections", ["dataset_id"])
    op.create_index("ix_objections_status", "objections", ["status"])
    op.create_table(
        "lease_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lease_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["lease_id"], ["leases.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id", "step"),
    )
    op.create_index("ix_lease_approvals_lease_id", "lease_approvals", ["lease_id"])


def downgrade() -> None:
    op.drop_index("ix_lease_approvals_lease_id", table_name="lease_approvals")
    op.drop_table("lease_approvals")
    op.drop_index("ix_objections_status", table_name="objections")
    op.drop_index("ix_objections_dataset_id", table_name="objections")
    op.drop_index("ix_objections_offer_id", table_name="objections")
    op.drop_table("objections")
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("approval_chain")
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("disclosure_ends_at")
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
        batch.drop_column("review_status")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("duties")
        batch.drop_column("authority_level")
