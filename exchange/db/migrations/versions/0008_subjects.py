"""data subjects: accounts bound to a keyed pseudonym of a person's identifier, guardians of
minors, consent withdrawals that make a new release of a dataset, and dividend payouts

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import exchange.db.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_DATETIME = exchange.db.models.UTCDateTime(timezone=True)
# The releases' first unique constraint was created unnamed; these names find it on either
# backend (SQLite's through the batch's reflected copy of the table).
OLD_UNIQUE = "releases_dataset_id_policy_hash_key"
NAMING = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("subject_hash", sa.String(length=64), nullable=True))
        batch.create_index("ix_accounts_subject_hash", ["subject_hash"], unique=True)
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("subject_column", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("consent_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("releases", naming_convention=NAMING) as batch:
        batch.add_column(
            sa.Column("consent_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch.drop_constraint(OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(
            "uq_releases_dataset_policy", ["dataset_id", "policy_hash", "consent_version"]
        )
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "subject_hash"),
    )
    op.create_index("ix_consent_withdrawals_dataset_id", "consent_withdrawals", ["dataset_id"])
    op.create_index("ix_consent_withdrawals_subject_hash", "consent_withdrawals", ["subject_hash"])
    op.create_table(
        "guardianships",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("guardian_id", sa.String(length=40), nullable=False),
        sa.Column("ward_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["guardian_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("guardian_id", "ward_hash"),
    )
    op.create_index("ix_guardianships_guardian_id", "guardianships", ["guardian_id"])
    op.create_index("ix_guardianships_ward_hash", "guardianships", ["ward_hash"])
    op.create_table(
        "dividend_payouts",
        sa.Column("lease_id", sa.String(length=40), nullable=False),
        sa.Column("release_id", sa.String(length=40), nullable=False),
        sa.Column("pool_minor", sa.BigInteger(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["lease_id"], ["leases.id"]),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("lease_id"),
    )
    op.create_index("ix_dividend_payouts_release_id", "dividend_payouts", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_dividend_payouts_release_id", table_name="dividend_payouts")
    op.drop_table("dividend_payouts")
    op.drop_index("ix_guardianships_ward_hash", table_name="guardianships")
    op.drop_index("ix_guardianships_guardian_id", table_name="guardianships")
    op.drop_table("guardianships")
    op.drop_index("ix_consent_withdrawals_subject_hash", table_name="consent_withdrawals")
    op.drop_index("ix_consent_withdrawals_dataset_id", table_name="consent_withdrawals")
    op.drop_table("consent_withdrawals")
    with op.batch_alter_table("releases") as batch:
        batch.drop_constraint("uq_releases_dataset_policy", type_="unique")
        batch.create_unique_constraint(OLD_UNIQUE, ["dataset_id", "policy_hash"])
        batch.drop_column("consent_version")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("consent_version")
        batch.drop_column("subject_column")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_subject_hash")
        batch.drop_column("subject_hash")
