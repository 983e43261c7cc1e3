"""SQLAlchemy models. Money is integer minor units; epsilon is integer micro-epsilon."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MICRO = 1_000_000  # epsilon is stored as an integer count of 1e-6 so cap checks are exact


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), index=True)
    # Governance: community, district or municipal (None: no public authority), and the
    # duties held beside the role ("compliance", "data_officer"); None means none.
    authority_level: Mapped[str | None] = mapped_column(String(20), default=None)
    duties: Mapped[list[Any] | None] = mapped_column(default=None)
    # A data subject's keyed pseudonym of their identifier (see exchange.services.subjects),
    # set once their identity was verified; never the identifier itself.
    subject_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(60), index=True)
    grade: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(String(255))
    fmt: Mapped[str] = mapped_column(String(10))
    encoding: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[list[Any]] = mapped_column()  # [{"name", "dtype"}]
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    storage_name: Mapped[str] = mapped_column(String(80))
    profile: Mapped[dict[str, Any]] = mapped_column()
    policy: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    policy_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The buyers' lifetime budget: set once, by the dataset's first offer (the listing), then
    # changed only by an operator-approved BudgetRequest.
    epsilon_cap_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    epsilon_spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    epsilon_cap_set_at: Mapped[datetime | None] = mapped_column(default=None)
    # The provider's own allowance (the profile's DP estimates), never drawn from the above.
    provider_epsilon_cap_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    provider_epsilon_spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    # The column holding each row's person identifier, which data subjects are matched on,
    # and how many consent withdrawals the releases must honour (a new one makes a new release).
    subject_column: Mapped[str | None] = mapped_column(String(200), default=None)
    consent_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when the dataset holds data about minors (under 14, sensitive personal information
    # under PIPL): the guardians' consent it rests on. Its releases then need a higher k and
    # no raw values (see exchange.services.minors).
    minors_basis: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Offer(Base):
    __tablename__ = "offers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    terms: Mapped[dict[str, Any]] = mapped_column()
    pricing: Mapped[dict[str, Any]] = mapped_column()
    shares_bp: Mapped[dict[str, Any]] = mapped_column()
    k: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # The listing review: pending_review -> disclosed (until disclosure_ends_at, then listed
    # unless an objection is open or upheld) or rejected; stopped by an upheld objection.
    # Offers made before reviews existed are listed.
    review_status: Mapped[str] = mapped_column(String(20), server_default="listed")
    reviewed_by: Mapped[str | None] = mapped_column(String(40), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    disclosure_ends_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Objection(Base):
    """An objection anyone filed against a listing during its public disclosure."""

    __tablename__ = "objections"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    filed_by: Mapped[str] = mapped_column(String(200), default="")  # as the objector signs
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # open|upheld|rejected
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), default=None)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class LeaseApproval(Base):
    """One completed step of a lease's approval chain; a step is decided once."""

    __tablename__ = "lease_approvals"
    __table_args__ = (UniqueConstraint("lease_id", "step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # 0-based position in the chain
    level: Mapped[str] = mapped_column(String(20))  # data_officer|community|district|municipal
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lease(Base):
    __tablename__ = "leases"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(60))
    purpose_text: Mapped[str] = mapped_column(Text, default="")
    columns: Mapped[list[Any]] = mapped_column()
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), index=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    # The grade's approval chain when requested, so changing the settings never changes
    # the steps of a pending lease (None: a lease from before chains were configured).
    approval_chain: Mapped[list[Any] | None] = mapped_column(default=None)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    quote: Mapped[dict[str, Any]] = mapped_column()
    agreement: Mapped[dict[str, Any]] = mapped_column()
    extract_epsilon_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    query_epsilon_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    query_spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    # delta spent by partition selection, in units of 1e-12 rounded up
    query_delta_spent_pico: Mapped[int] = mapped_column(BigInteger, default=0)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(40))
    max_downloads: Mapped[int] = mapped_column(Integer)
    release_id: Mapped[str | None] = mapped_column(ForeignKey("releases.id"), default=None)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    extract_name: Mapped[str | None] = mapped_column(String(80), default=None)
    extract_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    extract_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    extract_rows: Mapped[int | None] = mapped_column(BigInteger, default=None)
    receipt_index: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refund_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Release(Base):
    """A dataset anonymized once for one policy version: every lease is a projection of it,
    so no two leases can be differenced. Stored encrypted, with each row's input position."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint(
            "dataset_id", "policy_hash", "consent_version", name="uq_releases_dataset_policy"
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    policy_hash: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column()
    storage_name: Mapped[str] = mapped_column(String(80))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[dict[str, Any]] = mapped_column()
    # The dataset's consent version the release honours: rows of subjects who withdrew
    # before it are not in it.
    consent_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentWithdrawal(Base):
    """A data subject (or their guardian) withdrew consent to a dataset's use of their data."""

    __tablename__ = "consent_withdrawals"
    __table_args__ = (UniqueConstraint("dataset_id", "subject_hash"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))  # who withdrew
    consent_version: Mapped[int] = mapped_column(Integer)  # the dataset's version it made
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Guardianship(Base):
    """A guardian account acts for a minor, known by the keyed pseudonym of their identifier."""

    __tablename__ = "guardianships"
    __table_args__ = (UniqueConstraint("guardian_id", "ward_hash"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    guardian_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    ward_hash: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")  # as the guardian calls them
    evidence: Mapped[str] = mapped_column(Text, default="")  # e.g. household register ref.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataRight(Base):
    """An entry of a dataset's rights register: who holds the resource, who may process it,
    who operates the product, on what evidence. Revenue shares follow these holders."""

    __tablename__ = "data_rights"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    right: Mapped[str] = mapped_column(String(20))  # holding | processing | operation
    holder: Mapped[str] = mapped_column(String(200))  # "provider" or "party:<name>"
    organisation: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[str] = mapped_column(Text)  # e.g. a registration certificate's number
    registered_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), default=None)
    revoke_reason: Mapped[str] = mapped_column(Text, default="")


class DividendPayout(Base):
    """A lease whose subject-pool share went to the persons of its release, once."""

    __tablename__ = "dividend_payouts"
    lease_id: Mapped[str] = mapped_column(ForeignKey("leases.id"), primary_key=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"), index=True)
    pool_minor: Mapped[int] = mapped_column(BigInteger)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """One leaf of the verifiable log, in canonical JSON; never updated or deleted."""

    __tablename__ = "ledger_entries"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_type: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetSpend(Base):
    __tablename__ = "budget_spends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    lease_id: Mapped[str | None] = mapped_column(ForeignKey("leases.id"), default=None)
    kind: Mapped[str] = mapped_column(String(20))  # reservation | query
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetRequest(Base):
    """A provider's request to change a dataset's lifetime budget; only an operator decides."""

    __tablename__ = "budget_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    epsilon_cap_micro: Mapped[int] = mapped_column(BigInteger)  # the cap asked for
    previous_cap_micro: Mapped[int] = mapped_column(BigInteger)  # the cap when asked
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # requested|approved|rejected
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), default=None)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class AllowanceSpend(Base):
    """Epsilon spent from the provider's own allowance of a dataset (e.g. the profile's
    DP estimates of noise bounds), kept apart from the buyers' budget."""

    __tablename__ = "allowance_spends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # profile
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("key_owner", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Long work run by the job workers outside requests (see ``exchange.jobs``)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # One job per piece of work (e.g. "extract:<lease id>"): asking again finds the same job.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # queued|running|done|failed
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0..100
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    subject: Mapped[str] = mapped_column(String(40), index=True)  # the lease or dataset id
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(120), default=None)
    # A running job's worker renews this; once it passes, the worker is taken for dead.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
