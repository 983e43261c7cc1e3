"""Offers: a dataset's licence template, pricing, revenue shares and k; each draws on the
dataset's lifetime budget, which its first offer sets (see `exchange.services.budgets`)."""

from __future__ import annotations

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
from exchange.db.models import MICRO, Account, Dataset, Offer
from exchange.errors import Conflict, Forbidden, Invalid, MissingRow, NotFound
from exchange.services import budgets, governance, rights
from exchange.services import terms as terms_svc
from exchange.services.datasets import TERMS_ONLY, get_owned, require_policy
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
    rights.check_shares(session, exchange, dataset, shares)
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
    terms_svc.check_largest_price(offer=offer, dataset=dataset, policy=policy)
    # The cap belongs to the dataset: its first offer sets it, later ones draw on it.
    budgets.draw_on(session, exchange, dataset, body.get("epsilon_cap"), provider)
    session.add(offer)
    session.flush()
    exchange.log.record(
        session,
        "offer_published",
        actor=provider.id,
        dataset=dataset.id,
        offer=offer.id,
        epsilon_cap=f"{dataset.epsilon_cap_micro / MICRO:g}",
        k=k,
    )
    governance.submit(session, exchange, offer, dataset, provider)
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


REVIEW_STATUSES = ("pending_review", "disclosed", "listed", "rejected", "stopped")


def list_offers(
    session: Session, account: Account, review_status: str | None = None
) -> list[tuple[Offer, str]]:
    """Offers with their listing status, oldest first: a provider's own; every offer for
    auditors, operators and compliance accounts, who review and oversee listings."""
    query = select(Offer).order_by(Offer.created_at, Offer.id)
    if account.role not in ("auditor", "operator") and not governance.has_duty(
        account, "compliance"
    ):
        if account.role != "provider":
            raise Forbidden("buyers see offers in the catalog (GET /v1/catalog)")
        query = query.where(Offer.provider_id == account.id)
    found = list(session.scalars(query))
    objected = governance.open_objection_offers(session, [o.id for o in found])
    now = governance.now_utc()
    shown = [(o, governance.listing_status(o, now, o.id in objected)) for o in found]
    return [(o, status) for o, status in shown if review_status in (None, status)]


# Built once: the catalog runs it on every request.
_ACTIVE = (
    select(Offer, Dataset)
    .join(Dataset, Dataset.id == Offer.dataset_id)
    .where(Offer.status == "active", Offer.review_status.in_(("listed", "disclosed")))
    .order_by(Offer.created_at)
    .options(*TERMS_ONLY)
)


def active_offers(
    session: Session,
    *,
    domain: str | None = None,
    grade: str | None = None,
    text: str | None = None,
) -> list[tuple[Offer, Dataset]]:
    query = _ACTIVE
    if domain:
        query = query.where(Dataset.domain == domain.lower())
    if grade:
        query = query.where(Dataset.grade == grade.lower())
    rows = [(o, d) for o, d in session.execute(query)]
    shown = governance.listed(session, [o for o, _ in rows], governance.now_utc())
    rows = [(o, d) for o, d in rows if o.id in shown]
    if text:
        needle = text.lower()
        rows = [
            (o, d)
            for o, d in rows
            if needle in f"{o.title} {d.name} {d.description} {d.domain}".lower()
        ]
    return rows


def catalog_offer(session: Session, offer_id: str) -> tuple[Offer, Dataset]:
    """One active, listed offer with its dataset, as the catalog lists it."""
    offer = session.get(Offer, offer_id)
    if (
        offer is None
        or offer.status != "active"
        or offer.id not in governance.listed(session, [offer], governance.now_utc())
    ):
        raise NotFound(f"offer {offer_id} is not in the catalog")
    dataset = session.get(Dataset, offer.dataset_id)
    if dataset is None:
        raise MissingRow("datasets", offer.dataset_id)
    return offer, dataset
