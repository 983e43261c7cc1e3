"""What the API answers, as typed objects.

These mirror the service's response schemas (``exchange.api.schemas``) rather than
import them: those pull in SQLAlchemy, pandas and the desensitization engine, which a
buyer's script or the command line should not have to load. Unknown fields are kept
(``extra="allow"``), so a server newer than the client still parses; a test checks the
mirrored fields against the service's schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field, the unknown ones too."""
        return self.model_dump(mode="json", by_alias=True)


# --- accounts -------------------------------------------------------------------------


class Account(ApiModel):
    id: str
    name: str
    organisation: str
    role: str
    authority_level: str | None = None  # community, district or municipal
    duties: list[str] = Field(default_factory=list)  # compliance, data_officer
    created_at: datetime


class AccountWithKey(Account):
    api_key: str = Field(repr=False, description="shown once; only its hash is stored")


# --- datasets -------------------------------------------------------------------------


class Dataset(ApiModel):
    id: str
    provider_id: str
    name: str
    domain: str
    grade: str
    description: str
    filename: str
    format: str
    encoding: str
    delimiter: str | None = None
    rows: int
    raw_sha256: str
    columns: list[dict[str, Any]]
    profile: dict[str, Any]
    policy: dict[str, Any] | None
    policy_hash: str | None
    epsilon_cap: float
    epsilon_spent: float
    epsilon_cap_set_at: datetime | None
    provider_epsilon_allowance: float
    provider_epsilon_spent: float
    created_at: datetime

    @property
    def suggested_policy(self) -> dict[str, Any]:
        """The policy the profile proposes (safe by default); a starting point to edit."""
        return dict(self.profile.get("suggested_policy") or {})


class Preview(ApiModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    sample_rows: int
    report: dict[str, Any]
    noise: dict[str, dict[str, Any]]
    warnings: list[str]


class BudgetRequest(ApiModel):
    id: str
    dataset_id: str
    provider_id: str
    epsilon_cap: float
    previous_cap: float
    reason: str
    status: str
    decided_by: str | None
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None


# --- offers and the catalog -----------------------------------------------------------


class Offer(ApiModel):
    id: str
    dataset_id: str
    provider_id: str
    title: str
    terms: dict[str, Any]
    pricing: dict[str, Any]
    shares_bp: dict[str, int]
    k: int
    status: str
    review_status: str = "listed"
    disclosure_ends_at: datetime | None = None
    created_at: datetime


class CatalogEntry(ApiModel):
    offer_id: str
    title: str
    dataset_id: str
    dataset_name: str
    domain: str
    grade: str
    description: str
    rows: int
    k: int
    schema_: list[dict[str, Any]] = Field(alias="schema")
    terms: dict[str, Any]
    policy_hash: str | None
    epsilon_cap: float
    epsilon_remaining: float
    indicative_price_minor: int
    sample: dict[str, Any] | None = Field(
        default=None, description="synthetic rows, on a single entry only (never a real row)"
    )
    release: dict[str, Any] | None = None


# --- quotes, leases, queries ----------------------------------------------------------


class QuoteFactor(ApiModel):
    name: str
    numerator: int
    denominator: int
    explanation: str


class Quote(ApiModel):
    id: str
    offer_id: str
    currency: str
    total_minor: int
    subtotal_minor: int
    minimum_applied: bool
    factors: list[QuoteFactor]
    issued_at: datetime
    expires_at: datetime


class ApprovalStep(ApiModel):
    step: int  # 1 for the chain's first step
    level: str  # data_officer, community, district or municipal
    account_id: str
    reason: str
    time: str


class LeaseNotice(ApiModel):
    kind: str  # e.g. consent_withdrawn
    withdrawals: int
    since: str | None
    latest: str | None
    text: str


class Lease(ApiModel):
    id: str
    offer_id: str
    dataset_id: str
    buyer_id: str
    provider_id: str
    purpose: str
    purpose_text: str
    columns: list[str]
    starts_at: datetime
    ends_at: datetime
    status: str
    decision_reason: str
    approval_chain: list[str] = Field(default_factory=list)  # steps that approve it, in order
    approvals: list[ApprovalStep] = Field(default_factory=list)  # the steps decided so far
    awaiting: str | None = None  # the step that decides next while requested
    price_minor: int
    refund_minor: int
    quote: dict[str, Any]
    epsilon_extract: float
    epsilon_queries: float
    epsilon_queries_spent: float
    key_id: str
    downloads: int
    max_downloads: int
    extract_sha256: str | None
    receipt_index: int | None
    created_at: datetime
    notices: list[LeaseNotice] = Field(default_factory=list)  # what the lessee must act on


class QueryAnswer(ApiModel):
    op: str
    columns: list[str]
    value: Any
    epsilon: float
    delta: Any = None
    unit: str | None = None
    accounting: dict[str, Any]
    lease_epsilon_remaining: float


class LeaseBudget(ApiModel):
    lease_id: str
    epsilon_allowance: float
    epsilon_spent: float
    epsilon_remaining: float
    queries: list[dict[str, Any]]


class Receipt(ApiModel):
    index: int
    entry: dict[str, Any]
    inclusion: dict[str, Any]


class Receipts(ApiModel):
    lease_id: str
    receipts: list[Receipt]


# --- jobs and downloads ---------------------------------------------------------------


class Job(ApiModel):
    id: str
    kind: str
    subject: str
    state: str = Field(description="queued, running, done or failed")
    progress: int = 0
    rows_done: int = 0
    error: str | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class Download(ApiModel):
    """A file the client wrote: where, how many bytes, and its SHA-256 as received."""

    path: str | None = Field(default=None, description="None when written to a stream")
    size: int
    sha256: str
    media_type: str
    extract_sha256: str | None = Field(
        default=None, description="the server's hash of the stored extract (its Parquet form)"
    )
    receipt_index: int | None = None
    job: Job | None = Field(default=None, description="the job that made it, if one ran now")


# --- revenue and audit ----------------------------------------------------------------


class RevenueLine(ApiModel):
    index: int
    kind: str
    time: str
    lease_id: str | None
    amount_minor: int


class RevenueStatement(ApiModel):
    account: str
    currency: str
    balance_minor: int
    postings: list[RevenueLine]


class TreeHead(ApiModel):
    size: int
    root: str
    signature: str
    time: str
    public_key_pem: str | None = None


class PublicKey(ApiModel):
    public_key_pem: str
    public_key_hex: str


class LogEntry(ApiModel):
    index: int
    entry: dict[str, Any]


class Balances(ApiModel):
    currency: str
    balances_minor: dict[str, int]
    sum_minor: int
    balanced: bool


class DatasetBudget(ApiModel):
    dataset_id: str
    name: str
    epsilon_cap: float
    epsilon_spent: float
    within_cap: bool


class ListingObjection(ApiModel):
    id: str
    status: str  # open, upheld (the listing stopped) or rejected
    filed_at: str
    decision_reason: str


class Listing(ApiModel):
    offer_id: str
    title: str
    status: str  # pending_review, disclosed, listed, rejected or stopped
    reviewed_at: str | None
    disclosure_ends_at: str | None
    objections: list[ListingObjection]


class Transparency(ApiModel):
    dataset_id: str
    name: str
    domain: str
    grade: str
    provider: str  # the provider's organisation
    epsilon_cap: float
    epsilon_spent: float
    leases: list[dict[str, Any]]
    listings: list[Listing] = Field(default_factory=list)


class ObjectionFiled(ApiModel):
    id: str
    offer_id: str
    status: str


class Objection(ApiModel):
    """An objection as compliance sees it: with the objector's words and signature."""

    id: str
    offer_id: str
    dataset_id: str
    filed_by: str
    text: str
    status: str
    decided_by: str | None
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None


class TraceResult(ApiModel):
    lease_id: str | None
    score: float
    candidates: list[dict[str, Any]]
    dataset_id: str | None = None
    margin: float | None = None
    columns: dict[str, float] | None = None
    rows: int | None = None
    reason: str | None = None
