"""Offers, catalog, quotes, leases and queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from exchange.db.models import MICRO, Lease, Offer
from exchange.services.bounds import (
    MAX_BASIS_POINTS,
    MAX_K,
    MAX_LEASE_DAYS,
    MAX_LEASE_EPSILON,
    MAX_PRICE_MINOR,
    check_starts_at,
)

BasisPoints = Annotated[int, Field(ge=0, le=MAX_BASIS_POINTS)]
PartyName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class OfferTerms(BaseModel):
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
    base_minor_per_1000_rows: int = Field(
        ge=1, le=MAX_PRICE_MINOR, description="fen per 1,000 rows per plain column"
    )
    minimum_minor: int = Field(
        default=0, ge=0, le=MAX_PRICE_MINOR, description="the lowest price of a lease, fen"
    )
    exclusive: bool = False


class OfferCreate(BaseModel):
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
    id: str
    dataset_id: str
    provider_id: str
    title: str
    terms: dict[str, Any]
    pricing: dict[str, Any]
    shares_bp: dict[str, int]
    k: int
    status: str
    created_at: datetime

    @classmethod
    def of(cls, o: Offer) -> OfferPublic:
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
            created_at=o.created_at,
        )


class LeaseCreate(BaseModel):
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
    pass


class LeasePublic(BaseModel):
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
    reason: str = Field(default="", max_length=2000)
