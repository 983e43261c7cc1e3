"""The bridge from stored offers and leases to ``contracts``: grade decisions, quotes, ODRL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from desensitize import Policy
from exchange.db.models import Account, Dataset, Lease, Offer


@dataclass(frozen=True)
class GrantDecision:
    automatic: bool
    reason: str


def validate_offer_terms(terms: dict[str, Any]) -> dict[str, Any]:
    return dict(terms)


def validate_pricing(pricing: dict[str, Any]) -> dict[str, Any]:
    return dict(pricing)


def decide(
    *,
    offer: Offer,
    dataset: Dataset,
    purpose: str,
    starts_at: datetime,
    ends_at: datetime,
    columns: list[str],
    epsilon: float,
) -> GrantDecision:
    raise NotImplementedError


def make_quote(
    *,
    offer: Offer,
    dataset: Dataset,
    policy: Policy,
    columns: list[str],
    days: int,
    epsilon: float,
    now: datetime,
) -> dict[str, Any]:
    raise NotImplementedError


def agreement(*, offer: Offer, dataset: Dataset, lease: Lease, buyer: Account) -> dict[str, Any]:
    raise NotImplementedError
