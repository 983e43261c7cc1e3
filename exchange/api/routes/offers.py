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
from exchange.api.schemas import OfferCreate, OfferPublic
from exchange.services import catalog, offers, releases

router = APIRouter(prefix="/v1", tags=["offers"])


@router.post("/offers", status_code=201, response_model=OfferPublic)
def create_offer(
    body: OfferCreate, session: SessionDep, provider: ProviderAccount, exchange: ExchangeDep
) -> OfferPublic:
    offer = offers.create_offer(session, exchange, provider, body.model_dump())
    session.commit()
    return OfferPublic.of(offer)


@router.get("/offers/{offer_id}", response_model=OfferPublic)
def get_offer(offer_id: str, session: ReadSessionDep, _: CurrentAccount) -> OfferPublic:
    return OfferPublic.of(offers.get_offer(session, offer_id))


@router.post("/offers/{offer_id}/withdraw", response_model=OfferPublic)
def withdraw_offer(
    offer_id: str, session: SessionDep, provider: ProviderAccount, exchange: ExchangeDep
) -> OfferPublic:
    offer = offers.withdraw(session, exchange, provider, offer_id)
    session.commit()
    return OfferPublic.of(offer)


@router.get(
    "/catalog",
    tags=["catalog"],
    summary="Active offers: schema with classifications, terms, indicative price",
)
def list_catalog(
    session: ReadSessionDep,
    _: CurrentAccount,
    domain: str | None = Query(None, max_length=60),
    grade: str | None = Query(None, pattern="^(important|general)$"),
    q: str | None = Query(None, max_length=200),
) -> list[dict[str, Any]]:
    return [
        catalog.entry(o, d)
        for o, d in offers.active_offers(session, domain=domain, grade=grade, text=q)
    ]


@router.get(
    "/catalog/{offer_id}",
    tags=["catalog"],
    summary="One offer with a synthetic sample in its output formats (no real row)",
)
def catalog_entry(
    offer_id: str, session: ReadSessionDep, _: CurrentAccount, exchange: ExchangeDep
) -> dict[str, Any]:
    offer, dataset = offers.catalog_offer(session, offer_id)
    return catalog.entry(
        offer,
        dataset,
        sample_rows=exchange.settings.preview_rows,
        release=releases.current(session, dataset),
    )
