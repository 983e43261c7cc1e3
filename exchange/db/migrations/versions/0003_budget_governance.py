"""budget governance: the dataset's cap is set once at listing and changed only by an
operator-approved request; the profile's DP estimates draw on a provider allowance

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import exchange.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = exchange.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "budget_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("epsilon_cap_micro", sa.BigInteger(), nullable=False),
        sa.Column("previous_cap_micro", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("budget_requests", schema=None) as batch_op:
        for column in ("dataset_id", "provider_id", "status"):
            batch_op.create_index(
                batch_op.f(f"ix_budget_requests_{column}"), [column], unique=False
            )
    op.create_table(
        "allowance_spends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("epsilon_micro", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("allowance_spends", schema=None) as batch_op:
        for column in ("dataset_id", "provider_id"):
            batch_op.create_index(
                batch_op.f(f"ix_allowance_spends_{column}"), [column], unique=False
            )
    # Existing rows get 0 through a temporary server default, dropped so the schema matches
    # the models (which set these values in Python).
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epsilon_cap_set_at", UTC_DATETIME, nullable=True))
        for column in ("provider_epsilon_cap_micro", "provider_epsilon_spent_micro"):
            batch_op.add_column(
                sa.Column(column, sa.BigInteger(), nullable=False, server_default="0")
            )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        for column in ("provider_epsilon_cap_micro", "provider_epsilon_spent_micro"):
            batch_op.alter_column(column, server_default=None)
    # A dataset already offered was listed: its cap stays as its offers set it.
    op.execute(
        "UPDATE datasets SET epsilon_cap_set_at = created_at "
        "WHERE id IN (SELECT dataset_id FROM offers)"
    )


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("provider_epsilon_spent_micro")
        batch_op.drop_column("provider_epsilon_cap_micro")
        batch_op.drop_column("epsilon_cap_set_at")
    with op.batch_alter_table("allowance_spends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allowance_spends_provider_id"))
        batch_op.drop_index(batch_op.f("ix_allowance_spends_dataset_id"))
    op.drop_table("allowance_spends")
    with op.batch_alter_table("budget_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_requests_status"))
        batch_op.drop_index(batch_op.f("ix_budget_requests_provider_id"))
        batch_op.drop_index(batch_op.f("ix_budget_requests_dataset_id"))
    op.drop_table("budget_requests")
