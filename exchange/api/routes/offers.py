"""Offers (provider) and the catalog (everyone with an account)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from exchange.api.deps import (
    CurrentAccount,
    ExchangeDep,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas import (
    CatalogEntry,
    CatalogEntryDetail,
    ListingReview,
    OfferCreate,
    OfferPublic,
)
from exchange.db.models import Offer
from exchange.services import catalog, governance, offers, releases

router = APIRouter(prefix="/v1", tags=["offers"])


def _public(session: Session, offer: Offer) -> OfferPublic:
    objected = bool(governance.open_objection_offers(session, [offer.id]))
    return OfferPublic.of(offer, governance.listing_status(offer, governance.now_utc(), objected))


@router.post(
    "/offers",
    status_code=201,
    response_model=OfferPublic,
    summary="Publish an offer on a dataset with a policy: terms, pricing, revenue shares",
    responses=role_errors(
        (403, "not the dataset's provider"),
        404,
        (409, "core-grade data, no policy yet, or an epsilon_cap other than the dataset's"),
        (
            422,
            "shares that do not sum to 10000 or lack the platform, k above the policy's, "
            "no epsilon_cap on a first offer, bad terms or pricing",
        ),
    ),
)
def create_offer(
    body: OfferCreate, session: SessionDep, provider: ProviderAccount, exchange: ExchangeDep
) -> OfferPublic:
    """**Who:** the dataset's provider. Publishes the offer: a grade named in
    `DATALEASE_REVIEW_GRADES` (important by default) waits in `pending_review` for a
    compliance account, then is disclosed on the public transparency page for
    `DATALEASE_DISCLOSURE_DAYS` before the catalog lists it; other grades are reviewed
    automatically and listed at once. The first
    offer on a dataset sets its lifetime epsilon (`epsilon_cap`); later ones draw on it.
    Every lease is a projection of the dataset's one release at the policy's k, so `k`
    may not exceed the policy's. Logged."""
    offer = offers.create_offer(session, exchange, provider, body.model_dump())
    session.commit()
    return _public(session, offer)


@router.get(
    "/offers",
    response_model=list[OfferPublic],
    summary="Offers in every review state: a provider's own, all for compliance and audit",
    responses=role_errors((403, "a buyer (buyers use the catalog)"), 422),
)
def list_offers(
    session: ReadSessionDep,
    account: CurrentAccount,
    review_status: str | None = Query(
        None,
        pattern="^(" + "|".join(offers.REVIEW_STATUSES) + ")$",
        description="only offers in this listing state, e.g. pending_review",
    ),
) -> list[OfferPublic]:
    """**Who:** providers (their own offers), auditors, operators and accounts with the
    `compliance` duty (every offer). Unlike the catalog, offers awaiting review, in
    disclosure, rejected, stopped or withdrawn are shown, each with its `review_status`
    as of now: what a compliance account reviews and a provider follows."""
    return [
        OfferPublic.of(offer, status)
        for offer, status in offers.list_offers(session, account, review_status)
    ]


@router.get(
    "/offers/{offer_id}",
    response_model=OfferPublic,
    summary="One offer, active or withdrawn",
    responses=account_errors(404),
)
def get_offer(offer_id: str, session: ReadSessionDep, _: CurrentAccount) -> OfferPublic:
    """**Who:** any account."""
    return _public(session, offers.get_offer(session, offer_id))


@router.post(
    "/offers/{offer_id}/withdraw",
    response_model=OfferPublic,
    summary="Withdraw an offer from the catalog; existing leases go on",
    responses=role_errors((403, "not the offer's provider"), 404),
)
def withdraw_offer(
    offer_id: str, session: SessionDep, provider: ProviderAccount, exchange: ExchangeDep
) -> OfferPublic:
    """**Who:** the offer's provider. No new lease may be requested on it; leases already
    granted keep their terms. Logged."""
    offer = offers.withdraw(session, exchange, provider, offer_id)
    session.commit()
    return _public(session, offer)


@router.post(
    "/offers/{offer_id}/review",
    response_model=OfferPublic,
    summary="Review a new listing: approve it into public disclosure, or reject it",
    responses=role_errors(
        (403, "the account has no compliance duty"),
        404,
        (409, "the offer is not awaiting a review"),
        422,
    ),
)
def review_offer(
    offer_id: str,
    body: ListingReview,
    session: SessionDep,
    account: CurrentAccount,
    exchange: ExchangeDep,
) -> OfferPublic:
    """**Who:** accounts with the `compliance` duty. Approved, the offer is `disclosed`
    on the public transparency page for `DATALEASE_DISCLOSURE_DAYS`, where anyone may
    object, and is listed in the catalog after that unless an objection is open or
    upheld; rejected, it is never listed. Logged with who, level and reason."""
    offer = governance.review(
        session, exchange, account, offer_id, approve=body.approve, reason=body.reason
    )
    session.commit()
    return _public(session, offer)


@router.get(
    "/catalog",
    tags=["catalog"],
    summary="Active offers: schema with classifications, terms, indicative price",
    response_model=list[CatalogEntry],
    responses=account_errors(422),
)
async def list_catalog(
    session: ReadSessionDep,
    _: CurrentAccount,
    domain: str | None = Query(None, max_length=60),
    grade: str | None = Query(None, pattern="^(important|general)$"),
    q: str | None = Query(None, max_length=200),
) -> list[dict[str, Any]]:
    """**Who:** any account. Listed offers only (reviewed and past their public
    disclosure). Filter by `domain`, `grade` and free text `q` (title and description).
    No row of data, real or synthetic."""
    # On the event loop, like the key lookup before it: one indexed read, and entries kept
    # per offer; the worker-thread round trips for the handler and for checking its answer
    # cost more than that work (see `current_account`).
    return [
        catalog.entry(o, d)
        for o, d in offers.active_offers(session, domain=domain, grade=grade, text=q)
    ]


@router.get(
    "/catalog/{offer_id}",
    tags=["catalog"],
    summary="One offer with a synthetic sample in its output formats (no real row)",
    response_model=CatalogEntryDetail,
    response_model_exclude_unset=True,
    responses=account_errors((404, "no such active offer")),
)
def catalog_entry(
    offer_id: str, session: ReadSessionDep, _: CurrentAccount, exchange: ExchangeDep
) -> dict[str, Any]:
    """**Who:** any account. The catalog entry, a synthetic sample generated from the
    policy's output domain (no row is a real record), and the release gate's aggregate
    figures: risk after desensitization and utility per column."""
    offer, dataset = offers.catalog_offer(session, offer_id)
    return catalog.entry(
        offer,
        dataset,
        sample_rows=exchange.settings.preview_rows,
        release=releases.current(session, dataset),
    )
