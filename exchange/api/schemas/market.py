"""Offers, catalog, quotes, leases and queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from exchange.api.schemas.examples import (
    BUYER_ID,
    DATASET_ID,
    LATER,
    LEASE_ID,
    OFFER_ID,
    PRICING,
    PROVIDER_ID,
    QUOTE,
    SHARES,
    TERMS,
    TIME,
)
from exchange.api.schemas.subjects import LeaseNotice
from exchange.db.models import MICRO, Lease, Offer
from exchange.services.bounds import (
    MAX_BASIS_POINTS,
    MAX_K,
    MAX_LEASE_DAYS,
    MAX_LEASE_EPSILON,
    MAX_PRICE_MINOR,
    check_starts_at,
)

_OFFER_CREATE: dict[str, Any] = {
    "dataset_id": DATASET_ID,
    "title": "citizens, desensitized",
    "terms": TERMS,
    "pricing": PRICING,
    "shares_bp": SHARES,
    "epsilon_cap": 50.0,
    "k": 3,
}
_OFFER: dict[str, Any] = {
    "id": OFFER_ID,
    "dataset_id": DATASET_ID,
    "provider_id": PROVIDER_ID,
    "title": "citizens, desensitized",
    "terms": TERMS,
    "pricing": PRICING,
    "shares_bp": SHARES,
    "k": 3,
    "status": "active",
    "created_at": TIME,
}
_LEASE_CREATE: dict[str, Any] = {
    "offer_id": OFFER_ID,
    "purpose": "traffic-planning",
    "purpose_text": "peak-hour bus routes per district",
    "columns": ["citizen_id", "birth_date", "district", "monthly_income"],
    "days": 30,
    "epsilon": 1.0,
}
_LEASE: dict[str, Any] = {
    "id": LEASE_ID,
    "offer_id": OFFER_ID,
    "dataset_id": DATASET_ID,
    "buyer_id": BUYER_ID,
    "provider_id": PROVIDER_ID,
    "purpose": "traffic-planning",
    "purpose_text": "peak-hour bus routes per district",
    "columns": ["citizen_id", "birth_date", "district", "monthly_income"],
    "starts_at": TIME,
    "ends_at": LATER,
    "status": "active",
    "decision_reason": "general data and the request fits the offer",
    "price_minor": 40000,
    "refund_minor": 0,
    "quote": QUOTE,
    "epsilon_extract": 1.0,
    "epsilon_queries": 1.0,
    "epsilon_queries_spent": 0.1,
    "key_id": "k_feb595ecb4561af6",
    "downloads": 1,
    "max_downloads": 3,
    "extract_sha256": "ff5a8316d006c6411b0c362b0b9730d4cf66e59c5c4bb5e01c838b40705e79ff",
    "receipt_index": 28,
    "created_at": TIME,
}

_APPROVAL_STEP: dict[str, Any] = {
    "step": 1,
    "level": "data_officer",
    "account_id": PROVIDER_ID,
    "reason": "the stated purpose fits the offer",
    "time": TIME,
}

BasisPoints = Annotated[int, Field(ge=0, le=MAX_BASIS_POINTS)]
PartyName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class OfferTerms(BaseModel):
    """What a lease under the offer may do: purposes, period, uses, downloads."""

    model_config = ConfigDict(json_schema_extra={"examples": [TERMS]})

    allowed_purposes: list[str] = Field(min_length=1, description="purpose vocabulary codes")
    max_period_days: int = Field(default=90, ge=1, le=MAX_LEASE_DAYS)
    permitted_uses: list[str] = Field(default_factory=lambda: ["read", "aggregate", "derive"])
    prohibitions: list[str] = Field(
        default_factory=lambda: ["reidentification", "onward-transfer", "linking-to-identify"]
    )
    territory: str = Field(default="CN", max_length=60)
    max_downloads: int = Field(default=3, ge=1, le=1000)
    link_across_leases: bool = False


class OfferPricing(BaseModel):
    """The offer's price list in fen (minor units of CNY)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRICING]})

    base_minor_per_1000_rows: int = Field(
        ge=1, le=MAX_PRICE_MINOR, description="fen per 1,000 rows per plain column"
    )
    minimum_minor: int = Field(
        default=0, ge=0, le=MAX_PRICE_MINOR, description="the lowest price of a lease, fen"
    )
    exclusive: bool = False


class OfferCreate(BaseModel):
    """A new offer on one of the provider's datasets that has a policy."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OFFER_CREATE]})

    dataset_id: str = Field(max_length=40)
    title: str = Field(min_length=1, max_length=200)
    terms: OfferTerms
    pricing: OfferPricing
    shares_bp: dict[PartyName, BasisPoints] = Field(
        max_length=100,
        description="party -> basis points, summing to 10000; "
        "parties: provider, platform, subject_pool, party:<name>",
    )
    epsilon_cap: float | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="the dataset's lifetime epsilon over all leases: required on its first "
        "offer, which sets it; later offers draw on it and may only repeat it",
    )
    k: int | None = Field(default=None, ge=1, le=MAX_K)


class OfferPublic(BaseModel):
    """An offer: its terms, pricing, revenue shares and status (active or withdrawn)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OFFER]})

    id: str
    dataset_id: str
    provider_id: str
    title: str
    terms: dict[str, Any]
    pricing: dict[str, Any]
    shares_bp: dict[str, int]
    k: int
    status: str
    review_status: str = Field(
        default="listed",
        description="pending_review, disclosed (until disclosure_ends_at), listed, "
        "rejected in review, or stopped by an upheld objection",
    )
    disclosure_ends_at: datetime | None = None
    created_at: datetime

    @classmethod
    def of(cls, o: Offer, review_status: str | None = None) -> OfferPublic:
        return cls(
            id=o.id,
            dataset_id=o.dataset_id,
            provider_id=o.provider_id,
            title=o.title,
            terms=o.terms,
            pricing=o.pricing,
            shares_bp=o.shares_bp,
            k=o.k,
            status=o.status,
            review_status=review_status or o.review_status,
            disclosure_ends_at=o.disclosure_ends_at,
            created_at=o.created_at,
        )


class LeaseCreate(BaseModel):
    """What a buyer asks for: an offer, a purpose, columns, a period and a DP query budget."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LEASE_CREATE]})

    offer_id: str = Field(max_length=40)
    purpose: str = Field(max_length=60)
    purpose_text: str = Field(default="", max_length=2000)
    columns: list[str] | None = Field(default=None, max_length=500)
    starts_at: AwareDatetime | None = Field(
        default=None,
        description="with a timezone; from 5 minutes ago to 366 days ahead (default: now)",
    )
    days: int = Field(default=30, ge=1, le=MAX_LEASE_DAYS)
    epsilon: float = Field(
        default=0.0,
        ge=0,
        le=MAX_LEASE_EPSILON,
        description="epsilon for DP aggregate queries during the lease",
    )

    @field_validator("starts_at")
    @classmethod
    def _starts_within_reach(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            check_starts_at(value, datetime.now(UTC))
        return value


class QuoteCreate(LeaseCreate):
    """The same fields as a lease request: what the lease would cost, nothing stored."""


class ApprovalStep(BaseModel):
    """One decided step of a lease's approval chain: who approved it, at which level, why."""

    model_config = ConfigDict(json_schema_extra={"examples": [_APPROVAL_STEP]})

    step: int = Field(description="1 for the chain's first step")
    level: str = Field(description="data_officer, community, district or municipal")
    account_id: str
    reason: str
    time: str


class LeasePublic(BaseModel):
    """A lease: its terms, price, status and what it has used of its budget and downloads."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LEASE]})

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
    approval_chain: list[str] = Field(
        default_factory=list,
        description="the steps that approve this lease, in order (empty: approved at once)",
    )
    approvals: list[ApprovalStep] = Field(
        default_factory=list, description="the steps of approval_chain decided so far"
    )
    awaiting: str | None = Field(
        default=None,
        description="while the lease is requested, the step of approval_chain that decides next",
    )
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
    notices: list[LeaseNotice] = Field(
        default_factory=list,
        description="what the lessee must act on, e.g. consent withdrawn by persons in its "
        "release since it was made",
    )

    @classmethod
    def of(cls, lease: Lease, status: str) -> LeasePublic:
        return cls(
            id=lease.id,
            offer_id=lease.offer_id,
            dataset_id=lease.dataset_id,
            buyer_id=lease.buyer_id,
            provider_id=lease.provider_id,
            purpose=lease.purpose,
            purpose_text=lease.purpose_text,
            columns=lease.columns,
            starts_at=lease.starts_at,
            ends_at=lease.ends_at,
            status=status,
            decision_reason=lease.decision_reason,
            approval_chain=list(lease.approval_chain or []),
            price_minor=lease.price_minor,
            refund_minor=lease.refund_minor,
            quote=lease.quote,
            epsilon_extract=lease.extract_epsilon_micro / MICRO,
            epsilon_queries=lease.query_epsilon_micro / MICRO,
            epsilon_queries_spent=lease.query_spent_micro / MICRO,
            key_id=lease.key_id,
            downloads=lease.downloads,
            max_downloads=lease.max_downloads,
            extract_sha256=lease.extract_sha256,
            receipt_index=lease.receipt_index,
            created_at=lease.created_at,
        )


class Decision(BaseModel):
    """The reason given with a decision (approve, reject, revoke); logged."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "the stated purpose fits the offer"}]}
    )

    reason: str = Field(default="", max_length=2000)


class ListingReview(BaseModel):
    """A compliance review of a new offer: approve (then disclosure) or reject, and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"approve": True, "reason": "grade, terms and policy checked"}]
        }
    )

    approve: bool
    reason: str = Field(min_length=1, max_length=2000)
