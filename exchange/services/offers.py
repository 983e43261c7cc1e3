"""Offers: a dataset's licence template, pricing, revenue shares, budget cap and k."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import (
    PLATFORM,
    ContractError,
    party_account,
    provider_account,
    subject_pool_account,
)
from contracts.revenue import check_shares
from exchange.context import Exchange
from exchange.db.models import MICRO, Account, BudgetSpend, Dataset, Offer
from exchange.errors import Conflict, Forbidden, Invalid, NotFound
from exchange.services import terms as terms_svc
from exchange.services.datasets import get_owned, require_policy
from exchange.services.ids import new_id


def ledger_shares(shares: dict[str, int], provider_id: str, dataset_id: str) -> dict[str, int]:
    """Map the offer's party names to ledger accounts ('provider', 'platform', 'subject_pool',
    'party:<name>')."""
    out: dict[str, int] = {}
    for name, bp in shares.items():
        if name == "provider":
            account = provider_account(provider_id)
        elif name == "platform":
            account = PLATFORM
        elif name == "subject_pool":
            account = subject_pool_account(dataset_id)
        elif name.startswith("party:") and len(name) > 6:
            account = party_account(name[6:])
        else:
            raise Invalid(
                f"shares_bp: unknown party {name!r}; use provider, platform, "
                "subject_pool or party:<name>"
            )
        out[account] = out.get(account, 0) + bp
    return out


def _uncharged_profile_epsilon(session: Session, dataset: Dataset) -> int:
    """The epsilon of the profile's DP estimates, unless already charged (micro units,
    rounded up: a budget is never under-counted)."""
    spent = float((dataset.profile or {}).get("bounds_epsilon") or 0)
    if spent <= 0:
        return 0
    charged = session.scalars(
        select(BudgetSpend.id).where(
            BudgetSpend.dataset_id == dataset.id, BudgetSpend.kind == "profile"
        )
    ).first()
    return 0 if charged is not None else math.ceil(spent * MICRO - 1e-9)


def create_offer(
    session: Session, exchange: Exchange, provider: Account, body: dict[str, Any]
) -> Offer:
    dataset = get_owned(session, body["dataset_id"], provider)
    if dataset.grade == "core":
        raise Conflict(
            f"dataset {dataset.id} is graded core data, which the Data Security Law "
            "never allows to be leased",
            code="not_leasable",
        )
    policy = require_policy(dataset)
    shares = dict(body["shares_bp"])
    if "platform" not in shares:
        raise Invalid("shares_bp must include the platform's fee under 'platform'")
    try:
        check_shares(ledger_shares(shares, provider.id, dataset.id))
    except ContractError as exc:
        raise Invalid(f"shares_bp: {exc}") from None
    k = int(body.get("k") or policy.k or 1)
    if k > dataset.rows:
        raise Invalid(f"k={k} is larger than the dataset's {dataset.rows} rows")
    if k > (policy.k or 1):
        # Every lease is a projection of the one release made at the policy's k; a higher k
        # per offer would need a second release that could be differenced with the first.
        raise Invalid(
            f"k={k} is above the policy's k={policy.k or 1}: every lease is a projection of "
            f"the dataset's one release at the policy's k; raise the policy's k to {k} first"
        )
    cap_micro = round(float(body["epsilon_cap"]) * MICRO)
    profile_micro = _uncharged_profile_epsilon(session, dataset)
    if cap_micro < dataset.epsilon_spent_micro + profile_micro:
        raise Conflict(
            f"epsilon_cap {body['epsilon_cap']} is below the "
            f"{(dataset.epsilon_spent_micro + profile_micro) / MICRO} already spent on this "
            "dataset (its profile's DP estimates of noise bounds included)"
        )
    offer = Offer(
        id=new_id("off"),
        dataset_id=dataset.id,
        provider_id=provider.id,
        title=body["title"],
        terms=terms_svc.validate_offer_terms(body["terms"]),
        pricing=terms_svc.validate_pricing(body["pricing"]),
        shares_bp=shares,
        k=k,
    )
    # The cap belongs to the dataset: every offer and lease of it draws on the same budget.
    dataset.epsilon_cap_micro = cap_micro
    if profile_micro:
        # The profile's noise bounds are DP estimates that reach buyers as clamp values
        # once the dataset is offered: their epsilon is spent now, once.
        session.add(
            BudgetSpend(
                dataset_id=dataset.id,
                kind="profile",
                epsilon_micro=profile_micro,
                detail={"what": "DP estimates of noise bounds and rows per person"},
            )
        )
        dataset.epsilon_spent_micro += profile_micro
    session.add(offer)
    session.flush()
    exchange.log.record(
        session,
        "offer_published",
        actor=provider.id,
        dataset=dataset.id,
        offer=offer.id,
        epsilon_cap=str(body["epsilon_cap"]),
        k=k,
    )
    return offer


def get_offer(session: Session, offer_id: str) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"offer {offer_id} does not exist")
    return offer


def withdraw(session: Session, exchange: Exchange, provider: Account, offer_id: str) -> Offer:
    offer = get_offer(session, offer_id)
    if offer.provider_id != provider.id:
        raise Forbidden(f"offer {offer_id} belongs to another provider")
    offer.status = "withdrawn"
    exchange.log.record(
        session, "offer_withdrawn", actor=provider.id, offer=offer.id, dataset=offer.dataset_id
    )
    return offer


def active_offers(
    session: Session,
    *,
    domain: str | None = None,
    grade: str | None = None,
    text: str | None = None,
) -> list[tuple[Offer, Dataset]]:
    query = (
        select(Offer, Dataset)
        .join(Dataset, Dataset.id == Offer.dataset_id)
        .where(Offer.status == "active")
        .order_by(Offer.created_at)
    )
    if domain:
        query = query.where(Dataset.domain == domain.lower())
    if grade:
        query = query.where(Dataset.grade == grade.lower())
    rows = [(o, d) for o, d in session.execute(query)]
    if text:
        needle = text.lower()
        rows = [
            (o, d)
            for o, d in rows
            if needle in f"{o.title} {d.name} {d.description} {d.domain}".lower()
        ]
    return rows


def catalog_offer(session: Session, offer_id: str) -> tuple[Offer, Dataset]:
    """One active offer with its dataset, as the catalog lists it."""
    offer = session.get(Offer, offer_id)
    if offer is None or offer.status != "active":
        raise NotFound(f"offer {offer_id} is not in the catalog")
    dataset = session.get(Dataset, offer.dataset_id)
    assert dataset is not None
    return offer, dataset
