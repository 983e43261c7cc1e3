"""Offers (provider) and the catalog (everyone with an account)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from exchange.api.deps import (
    CurrentAccount,
    ExchangeDep,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas import CatalogEntry, CatalogEntryDetail, OfferCreate, OfferPublic
from exchange.services import catalog, offers, releases

router = APIRouter(prefix="/v1", tags=["offers"])


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
    """**Who:** the dataset's provider. Publishes the offer to the catalog. The first
    offer on a dataset sets its lifetime epsilon (`epsilon_cap`); later ones draw on it.
    Every lease is a projection of the dataset's one release at the policy's k, so `k`
    may not exceed the policy's. Logged."""
    offer = offers.create_offer(session, exchange, provider, body.model_dump())
    session.commit()
    return OfferPublic.of(offer)


@router.get(
    "/offers/{offer_id}",
    response_model=OfferPublic,
    summary="One offer, active or withdrawn",
    responses=account_errors(404),
)
def get_offer(offer_id: str, session: ReadSessionDep, _: CurrentAccount) -> OfferPublic:
    """**Who:** any account."""
    return OfferPublic.of(offers.get_offer(session, offer_id))


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
    return OfferPublic.of(offer)


@router.get(
    "/catalog",
    tags=["catalog"],
    summary="Active offers: schema with classifications, terms, indicative price",
    response_model=list[CatalogEntry],
    responses=account_errors(422),
)
def list_catalog(
    session: ReadSessionDep,
    _: CurrentAccount,
    domain: str | None = Query(None, max_length=60),
    grade: str | None = Query(None, pattern="^(important|general)$"),
    q: str | None = Query(None, max_length=200),
) -> list[dict[str, Any]]:
    """**Who:** any account. Filter by `domain`, `grade` and free text `q` (title and
    description). No row of data, real or synthetic."""
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
