"""Quotes, leases, payment, extracts, DP queries and receipts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from exchange.api.deps import (
    BuyerAccount,
    CurrentAccount,
    ExchangeDep,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
    require,
)
from exchange.api.routes.jobs import accepted
from exchange.api.schemas import Decision, LeaseCreate, LeasePublic, QuoteCreate
from exchange.api.schemas.queries import QueryCreate
from exchange.context import Exchange
from exchange.db.models import Account, Lease
from exchange.services import extracts, leases, queries

router = APIRouter(prefix="/v1", tags=["leases"])
RevokerAccount = Annotated[Account, Depends(require("provider", "operator"))]


def _public(lease: Lease) -> LeasePublic:
    return LeasePublic.of(lease, leases.effective_status(lease, leases.now_utc()))


def _request(body: LeaseCreate) -> leases.LeaseRequest:
    return leases.LeaseRequest(
        offer_id=body.offer_id,
        purpose=body.purpose,
        purpose_text=body.purpose_text,
        columns=body.columns,
        starts_at=body.starts_at,
        days=body.days,
        epsilon=body.epsilon,
    )


@router.post(
    "/quotes",
    status_code=201,
    tags=["quotes"],
    summary="A deterministic, itemised price quote in fen",
)
def create_quote(body: QuoteCreate, session: ReadSessionDep, buyer: BuyerAccount) -> dict[str, Any]:
    return leases.quote_request(session, _request(body))


@router.post("/leases", status_code=201, response_model=LeasePublic)
def request_lease(
    body: LeaseCreate, session: SessionDep, buyer: BuyerAccount, exchange: ExchangeDep
) -> LeasePublic:
    lease = leases.request_lease(session, exchange, buyer, _request(body))
    session.commit()
    return _public(lease)


@router.get("/leases", response_model=list[LeasePublic])
def list_leases(session: ReadSessionDep, account: CurrentAccount) -> list[LeasePublic]:
    return [_public(lease) for lease in leases.list_leases(session, account)]


@router.get("/leases/{lease_id}", response_model=LeasePublic)
def get_lease(lease_id: str, session: ReadSessionDep, account: CurrentAccount) -> LeasePublic:
    return _public(leases.get_lease(session, lease_id, account))


def _decide(
    session: Session,
    exchange: Exchange,
    provider: Account,
    lease_id: str,
    approve: bool,
    body: Decision | None,
) -> LeasePublic:
    lease = leases.decide(
        session, exchange, provider, lease_id, approve=approve, reason=body.reason if body else ""
    )
    session.commit()
    return _public(lease)


@router.post("/leases/{lease_id}/approve", response_model=LeasePublic)
def approve(
    lease_id: str,
    session: SessionDep,
    provider: ProviderAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    return _decide(session, exchange, provider, lease_id, True, body)


@router.post("/leases/{lease_id}/reject", response_model=LeasePublic)
def reject(
    lease_id: str,
    session: SessionDep,
    provider: ProviderAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    return _decide(session, exchange, provider, lease_id, False, body)


@router.post(
    "/leases/{lease_id}/pay",
    response_model=LeasePublic,
    summary="Pay an approved lease (send an Idempotency-Key to retry safely)",
)
def pay(
    lease_id: str, session: SessionDep, buyer: BuyerAccount, exchange: ExchangeDep
) -> LeasePublic:
    lease = leases.pay(session, exchange, buyer, lease_id)
    session.commit()
    return _public(lease)


@router.post("/leases/{lease_id}/revoke", response_model=LeasePublic)
def revoke(
    lease_id: str,
    session: SessionDep,
    actor: RevokerAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    lease = leases.revoke(session, exchange, actor, lease_id, body.reason if body else "")
    session.commit()
    return _public(lease)


@router.get(
    "/leases/{lease_id}/extract",
    summary="Download the extract while the lease is active",
    description="The extract is made by a job the first time it is asked for: until it is "
    "ready the answer is `202 Accepted` with the job (`GET /v1/jobs/{id}`, also in the "
    "Location header); ask again once the job is done. A download counts against the "
    "lease's allowance when its last chunk is sent: an interrupted download uses up nothing.",
    response_class=StreamingResponse,
    responses={202: {"description": "the extract is being made; the body is the job"}},
)
def download_extract(
    lease_id: str,
    request: Request,
    session: SessionDep,
    buyer: BuyerAccount,
    exchange: ExchangeDep,
    format: str = Query("csv", pattern="^(csv|parquet)$"),
) -> Response:
    lease = leases.get_lease(session, lease_id, buyer)
    job = extracts.start_download(session, exchange, buyer, lease)
    session.commit()
    if job is not None:
        return accepted(request, job)
    if format == "parquet":
        body, media = extracts.stream_parquet(exchange, lease), "application/vnd.apache.parquet"
    else:
        body, media = extracts.stream_csv(exchange, lease), "text/csv; charset=utf-8"
    return StreamingResponse(
        extracts.counted(exchange, buyer, lease, body),  # counts once the last chunk goes out
        media_type=media,
        headers={
            "content-disposition": f"attachment; filename={lease.id}.{format}",
            "x-extract-sha256": lease.extract_sha256 or "",
            "x-receipt-index": str(lease.receipt_index),
        },
    )


@router.post("/leases/{lease_id}/queries", summary="A differentially private aggregate")
def run_query(
    lease_id: str,
    body: QueryCreate,
    reads: ReadSessionDep,
    session: SessionDep,
    buyer: BuyerAccount,
    exchange: ExchangeDep,
) -> dict[str, Any]:
    lease = leases.get_lease(reads, lease_id, buyer)
    answered = queries.compute(reads, exchange, lease, body.model_dump(exclude_none=True))
    reads.commit()
    # Only the charge takes the write lock, not the compute: writers queue for milliseconds.
    result = queries.charge(session, exchange, buyer, answered)
    session.commit()
    return result


@router.get(
    "/leases/{lease_id}/budget",
    summary="The lease's query allowance and each query's spend with its accounting record",
)
def query_budget(lease_id: str, session: ReadSessionDep, account: CurrentAccount) -> dict[str, Any]:
    return queries.budget_ledger(session, leases.get_lease(session, lease_id, account))


@router.get(
    "/leases/{lease_id}/receipts",
    summary="The lease's desensitization receipt with its inclusion proof",
)
def receipts(
    lease_id: str, session: ReadSessionDep, account: CurrentAccount, exchange: ExchangeDep
) -> dict[str, Any]:
    lease = leases.get_lease(session, lease_id, account)
    found = [
        (index, entry)
        for index, entry in exchange.log.entries(session, subject=lease.id)
        if entry["type"] == "desensitization_receipt"
    ]
    session.commit()  # end the read before the log opens its own session for the proofs
    items = [
        {"index": index, "entry": entry, "inclusion": exchange.log.inclusion(index)}
        for index, entry in found
    ]
    return {"lease_id": lease.id, "receipts": items}
