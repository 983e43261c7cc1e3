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
    ReadSessionDep,
    SessionDep,
    require,
)
from exchange.api.openapi import account_errors, role_errors
from exchange.api.routes.jobs import accepted
from exchange.api.schemas import (
    ApprovalStep,
    Decision,
    JobPublic,
    LeaseCreate,
    LeasePublic,
    LeaseReceipts,
    QueryBudget,
    QueryResult,
    QuoteCreate,
    QuotePublic,
)
from exchange.api.schemas.examples import JOB_ID, LEASE_ID
from exchange.api.schemas.queries import QueryCreate
from exchange.api.schemas.subjects import LeaseNotice
from exchange.context import Exchange
from exchange.db.models import Account, Lease
from exchange.services import consent, extracts, governance, leases, queries

router = APIRouter(prefix="/v1", tags=["leases"])
RevokerAccount = Annotated[Account, Depends(require("provider", "operator"))]
_NOT_YOURS = (403, "another buyer's lease, or a lease on another provider's dataset")
_QUEUED_JOB = {
    "id": JOB_ID,
    "kind": "extract",
    "subject": LEASE_ID,
    "state": "queued",
    "progress": 0,
    "rows_done": 0,
    "error": None,
    "attempts": 0,
    "result": None,
    "created_at": "2026-11-26T18:19:39.912131+00:00",
    "updated_at": "2026-11-26T18:19:39.912131+00:00",
}


def _public(lease: Lease, session: Session | None = None) -> LeasePublic:
    public = LeasePublic.of(lease, leases.effective_status(lease, leases.now_utc()))
    if session is not None:
        public.notices = [LeaseNotice(**n) for n in consent.lease_notices(session, lease)]
        if lease.approval_chain:
            steps = governance.approvals_view(session, lease)
            public.approvals = [ApprovalStep(**step) for step in steps]
            if public.status == "requested" and len(steps) < len(lease.approval_chain):
                public.awaiting = lease.approval_chain[len(steps)]
    return public


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
    response_model=QuotePublic,
    summary="A deterministic, itemised price quote in fen",
    responses=role_errors(
        404, (409, "the offer is withdrawn"), (422, "terms the offer does not allow")
    ),
)
async def create_quote(
    body: QuoteCreate, session: ReadSessionDep, buyer: BuyerAccount
) -> dict[str, Any]:
    """**Who:** buyers. What the lease described by the body would cost now: every
    factor (rows, columns, grade, period, epsilon, exclusivity) as an exact fraction, and
    the total. Nothing is stored; the same request gives the same total."""
    # On the event loop, as the catalog: one read by primary key and a price in exact
    # fractions cost less than the worker-thread round trips around them.
    return leases.quote_request(session, _request(body))


@router.post(
    "/leases",
    status_code=201,
    response_model=LeasePublic,
    summary="Request a lease: approved at once for general data, else through its approval chain",
    responses=role_errors(
        404,
        (
            409,
            "the offer is withdrawn, promises a k the release does not have, the release "
            "could be joined with one the buyer holds, or the dataset's budget is spent",
        ),
        (422, "a purpose, period, column or epsilon the offer does not allow"),
    ),
)
def request_lease(
    body: LeaseCreate, session: SessionDep, buyer: BuyerAccount, exchange: ExchangeDep
) -> LeasePublic:
    """**Who:** buyers. Checks the request against the offer's terms and prices it; a
    lease on general-grade data that fits is `approved` at once, one on important data
    stays `requested` until every step of the grade's approval chain has approved it
    (`approval_chain`). The offer must be listed: reviewed and past its disclosure. The epsilon is reserved from the
    dataset's budget. Logged."""
    lease = leases.request_lease(session, exchange, buyer, _request(body))
    session.commit()
    return _public(lease, session)


@router.get(
    "/leases",
    response_model=list[LeasePublic],
    summary="Leases: a buyer's own, a provider's datasets', all for auditors and operators",
    responses=account_errors(),
)
def list_leases(session: ReadSessionDep, account: CurrentAccount) -> list[LeasePublic]:
    """**Who:** any account; each sees the leases it is party to (auditors and operators
    see all). Status is as of now: a paid lease past its end shows `expired`."""
    return [_public(lease, session) for lease in leases.list_leases(session, account)]


@router.get(
    "/leases/{lease_id}",
    response_model=LeasePublic,
    summary="One lease: terms, price, status, budget and downloads used",
    responses=account_errors(_NOT_YOURS, 404),
)
def get_lease(lease_id: str, session: ReadSessionDep, account: CurrentAccount) -> LeasePublic:
    """**Who:** the lease's buyer, the dataset's provider, auditors and operators."""
    return _public(leases.get_lease(session, lease_id, account), session)


def _decide(
    session: Session,
    exchange: Exchange,
    account: Account,
    lease_id: str,
    approve: bool,
    body: Decision | None,
) -> LeasePublic:
    lease = leases.decide(
        session, exchange, account, lease_id, approve=approve, reason=body.reason if body else ""
    )
    session.commit()
    return _public(lease, session)


@router.post(
    "/leases/{lease_id}/approve",
    response_model=LeasePublic,
    summary="Approve the lease's next approval step; the last one lets the buyer pay",
    responses=role_errors(
        (403, "the account decides no step of this lease's chain"),
        404,
        (
            409,
            "the lease is not requested, its next step is another's, or this account "
            "decided a step already",
        ),
        422,
    ),
)
def approve(
    lease_id: str,
    session: SessionDep,
    account: CurrentAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    """**Who:** the account that decides the lease's next step in its grade's approval
    chain: `data_officer` is the dataset's provider or a data officer of its
    organisation; `community`, `district`, `municipal` a data officer at that authority
    level. Steps are decided in order, each by another account; approving the last one
    approves the lease. The optional body gives a reason; each step is logged with who,
    level and reason."""
    return _decide(session, exchange, account, lease_id, True, body)


@router.post(
    "/leases/{lease_id}/reject",
    response_model=LeasePublic,
    summary="Reject a requested lease at its next approval step",
    responses=role_errors(
        (403, "the account decides no step of this lease's chain"),
        404,
        (
            409,
            "the lease is not requested, its next step is another's, or this account "
            "decided a step already",
        ),
        422,
    ),
)
def reject(
    lease_id: str,
    session: SessionDep,
    account: CurrentAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    """**Who:** the account that decides the lease's next approval step (see approve).
    The lease is rejected; the optional body gives a reason; logged with who, level and
    reason."""
    return _decide(session, exchange, account, lease_id, False, body)


@router.post(
    "/leases/{lease_id}/pay",
    response_model=LeasePublic,
    summary="Pay an approved lease (send an Idempotency-Key to retry safely)",
    responses=role_errors(
        (403, "another buyer's lease"),
        404,
        (409, "already paid, or not approved"),
    ),
)
def pay(
    lease_id: str, session: SessionDep, buyer: BuyerAccount, exchange: ExchangeDep
) -> LeasePublic:
    """**Who:** the lease's buyer. Pays the quoted price into escrow and splits it at
    once by the offer's shares (double-entry postings in the log); the lease becomes
    `active`. Send an `Idempotency-Key`: a retry then never pays twice."""
    lease = leases.pay(session, exchange, buyer, lease_id)
    session.commit()
    return _public(lease)


@router.post(
    "/leases/{lease_id}/revoke",
    response_model=LeasePublic,
    summary="Revoke a lease: its data stops flowing at once",
    responses=role_errors(
        (403, "not the dataset's provider nor an operator"),
        404,
        (409, "the lease is already revoked, rejected or over"),
        422,
    ),
)
def revoke(
    lease_id: str,
    session: SessionDep,
    actor: RevokerAccount,
    exchange: ExchangeDep,
    body: Decision | None = None,
) -> LeasePublic:
    """**Who:** the dataset's provider, or an operator. Downloads and queries stop; an
    unused paid lease is refunded in part. The optional body gives a reason; logged."""
    lease = leases.revoke(session, exchange, actor, lease_id, body.reason if body else "")
    session.commit()
    return _public(lease)


@router.get(
    "/leases/{lease_id}/extract",
    summary="Download the extract while the lease is active",
    description="**Who:** the lease's buyer, while the lease is active. "
    "The extract is made by a job the first time it is asked for: until it is "
    "ready the answer is `202 Accepted` with the job (`GET /v1/jobs/{id}`, also in the "
    "Location header); ask again once the job is done. A download counts against the "
    "lease's allowance when its last chunk is sent: an interrupted download uses up nothing.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the desensitized extract; headers `x-extract-sha256` and "
            "`x-receipt-index` name its hash and its receipt in the log; "
            "`x-datalease-notice`, when present, says persons in the lease's release have "
            "withdrawn consent since (see the lease's `notices`)",
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "citizen_id,birth_date,district,monthly_income\n"
                    "tk_aa32fb1ae4371460,1962,福田区,9120.5\n",
                },
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        },
        202: {
            "description": "the extract is being made; the body is the job, also in the "
            "Location header",
            "model": JobPublic,
            "content": {"application/json": {"example": _QUEUED_JOB}},
        },
        **role_errors(
            (403, "another buyer's lease, a revoked lease, or every download used"),
            404,
            (409, "the lease is not paid yet"),
            (410, "the lease has ended"),
            422,
        ),
    },
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
    notice = consent.notice_header(consent.lease_notices(session, lease))
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
            **({"x-datalease-notice": notice} if notice else {}),
        },
    )


@router.post(
    "/leases/{lease_id}/queries",
    response_model=QueryResult,
    summary="A differentially private aggregate",
    responses=role_errors(
        (403, "another buyer's lease, or a revoked one"),
        404,
        (409, "the lease's epsilon or delta allowance is spent, or it is not paid yet"),
        (410, "the lease has ended"),
        (422, "an unknown operation, a column outside the lease or an identifier"),
    ),
)
def run_query(
    lease_id: str,
    body: QueryCreate,
    reads: ReadSessionDep,
    session: SessionDep,
    buyer: BuyerAccount,
    exchange: ExchangeDep,
) -> dict[str, Any]:
    """**Who:** the lease's buyer, while the lease is active. Counts, sums, means,
    histograms and grouped counts and sums over the lease's rows with calibrated noise;
    each answer's epsilon (and delta, for groups found by partition selection) is charged
    to the lease's allowance and logged with its accounting record."""
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
    response_model=QueryBudget,
    responses=account_errors(_NOT_YOURS, 404),
)
def query_budget(lease_id: str, session: ReadSessionDep, account: CurrentAccount) -> dict[str, Any]:
    """**Who:** the lease's buyer, the dataset's provider, auditors and operators."""
    return queries.budget_ledger(session, leases.get_lease(session, lease_id, account))


@router.get(
    "/leases/{lease_id}/receipts",
    summary="The lease's desensitization receipt with its inclusion proof",
    response_model=LeaseReceipts,
    responses=account_errors(_NOT_YOURS, 404),
)
def receipts(
    lease_id: str, session: ReadSessionDep, account: CurrentAccount, exchange: ExchangeDep
) -> dict[str, Any]:
    """**Who:** the lease's buyer, the dataset's provider, auditors and operators. The
    receipt made with the extract (policy, release, rows, extract hash), with the proof
    that it is in the signed log; empty until the extract is made."""
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
