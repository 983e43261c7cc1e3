"""Auditor endpoints (read-only) and the public transparency report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse

from exchange.api.deps import (
    AuditorAccount,
    CurrentAccount,
    ExchangeDep,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.openapi import errors, role_errors
from exchange.api.schemas import (
    AuditEvent,
    AuditHead,
    ConsistencyProof,
    DatasetBudget,
    InclusionProof,
    LogEntry,
    ObjectionCreate,
    ObjectionDecision,
    ObjectionFiled,
    ObjectionPublic,
    PublicKey,
    RevenueReport,
    TraceResult,
    Transparency,
)
from exchange.api.schemas.examples import HEAD, PUBLIC_KEY_HEX
from exchange.errors import PayloadTooLarge
from exchange.services import audit, governance
from exchange.services import trace as trace_svc

router = APIRouter(prefix="/v1", tags=["audit"])
MAX_INDEX = 2**62  # beyond any log; keeps database integers in range
_EXPORT_EXAMPLE = "\n".join(
    [
        '{"format":"datalease-ledger-export","hash":"sha256",'
        f'"public_key":"{PUBLIC_KEY_HEX}","tree_head":{{"root":"{HEAD["root"]}",...}},...}}',
        '{"seq":0,"leaf_hash":"8a7b37e4...","entry":{"body":{...},"time":"...","type":"upload"}}',
    ]
)


@router.get(
    "/audit/head",
    response_model=AuditHead,
    summary="The signed tree head of the verifiable log",
    responses=role_errors(),
)
def head(_: AuditorAccount, exchange: ExchangeDep) -> dict[str, Any]:
    """**Who:** auditors and operators (read-only). The log's current size and Merkle root, signed with the exchange's
    Ed25519 key, and that key. Keep heads to check later ones against them
    (`/audit/proofs/consistency`)."""
    return {**exchange.log.head().to_json(), "public_key_pem": exchange.signer.public_pem}


@router.get(
    "/ledger/public-key",
    tags=["public"],
    response_model=PublicKey,
    summary="The Ed25519 key that signs tree heads (public)",
)
def public_key(exchange: ExchangeDep) -> dict[str, str]:
    """**Who:** anyone, without a key. The key that verifies every signed tree head,
    as PEM and as raw hex."""
    return {
        "public_key_pem": exchange.signer.public_pem,
        "public_key_hex": exchange.signer.public_raw.hex(),
    }


@router.get(
    "/audit/entries",
    response_model=list[LogEntry],
    summary="Entries of the verifiable log, by index",
    responses=role_errors(422),
)
def entries(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    start: int = Query(0, ge=0, le=MAX_INDEX),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """**Who:** auditors and operators (read-only). Up to `limit` entries from index `start`, exactly as they were
    hashed into the log: uploads, policies, offers, leases, payments, receipts, queries."""
    return [
        {"index": i, "entry": e} for i, e in exchange.log.entries(session, start, start + limit)
    ]


@router.get(
    "/audit/proofs/inclusion",
    response_model=InclusionProof,
    summary="Proof that an entry is in the log",
    responses=role_errors(
        (
            404,
            "no entry `index` in a tree of `size` entries, or no tree of that size yet "
            "(size defaults to the current log size)",
        )
    ),
)
def inclusion(
    _: AuditorAccount,
    exchange: ExchangeDep,
    index: int = Query(ge=0, le=MAX_INDEX),
    size: int | None = Query(None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    """**Who:** auditors and operators (read-only). The Merkle audit path of entry `index` in the tree of `size` entries,
    with the signed head it leads to."""
    return exchange.log.inclusion(index, size)


@router.get(
    "/audit/proofs/consistency",
    response_model=ConsistencyProof,
    summary="Proof that an older log is a prefix of the current one",
    responses=role_errors(
        (404, "no tree of old_size or new_size entries yet"),
        (422, "old_size larger than new_size"),
    ),
)
def consistency(
    _: AuditorAccount,
    exchange: ExchangeDep,
    old_size: int = Query(ge=1, le=MAX_INDEX),
    new_size: int | None = Query(None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    """**Who:** auditors and operators (read-only). Proves that nothing logged up to `old_size` was changed or removed
    since: check it against a head you kept."""
    return exchange.log.consistency(old_size, new_size)


@router.get(
    "/audit/export",
    summary="JSON lines for `datalease verify-ledger`",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "a header line with the signed head and key, then one line per "
            "entry with its leaf hash",
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": _EXPORT_EXAMPLE,
                }
            },
        },
        **role_errors(),
    },
)
def export(_: AuditorAccount, exchange: ExchangeDep) -> StreamingResponse:
    """**Who:** auditors and operators (read-only). The whole log for offline verification: `datalease verify-ledger
    ledger.jsonl` recomputes every hash and the root and checks the head's signature."""
    lines = list(exchange.log.export_lines())
    return StreamingResponse(
        iter(lines),
        media_type="application/x-ndjson",
        headers={"content-disposition": "attachment; filename=ledger.jsonl"},
    )


@router.get(
    "/audit/events",
    response_model=list[AuditEvent],
    summary="Access and lifecycle events from the verifiable log",
    responses=role_errors(422),
)
def events(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    start: int = Query(0, ge=0, le=MAX_INDEX),
    limit: int = Query(500, ge=1, le=5000),
    kind: str | None = Query(None, max_length=64),
) -> list[dict[str, Any]]:
    """**Who:** auditors and operators (read-only). Log entries other than money transactions, each body's fields
    flattened next to its index, type and time; `kind` keeps one type (e.g. `extract`)."""
    return audit.events(exchange, session, start=start, limit=limit, kind=kind)


@router.get(
    "/audit/budgets",
    response_model=list[DatasetBudget],
    summary="Privacy budget cap and spending per dataset",
    responses=role_errors(),
)
def budgets(_: AuditorAccount, session: ReadSessionDep) -> list[dict[str, Any]]:
    """**Who:** auditors and operators (read-only). Each dataset's lifetime epsilon cap, what leases reserved from it,
    whether spending is within the cap, budget requests, and the provider's allowance."""
    return audit.budget_report(session)


@router.get(
    "/audit/revenue",
    response_model=RevenueReport,
    summary="Balances of every party, derived from postings",
    responses=role_errors(),
)
def revenue(_: AuditorAccount, session: ReadSessionDep, exchange: ExchangeDep) -> dict[str, Any]:
    """**Who:** auditors and operators (read-only). Every ledger account's balance in fen (buyers negative, escrow,
    providers, platform, subject pools, named parties); double entry, so they sum to 0."""
    return audit.revenue_report(exchange, session)


@router.get(
    "/transparency/{dataset_id}",
    tags=["public"],
    response_model=Transparency,
    summary="Public: who leases this dataset, for what purpose and period, epsilon spent",
    responses=errors(404),
)
def transparency(dataset_id: str, session: ReadSessionDep) -> dict[str, Any]:
    """**Who:** anyone, without a key. What the people in a dataset may know: the
    organisations leasing it, their purposes, periods and columns, and the epsilon spent.
    Requested and rejected leases are not shown. `listings` shows each offer's review and
    public disclosure, with the outcome of every objection to it."""
    return audit.transparency(session, dataset_id, governance.now_utc())


@router.post(
    "/transparency/{dataset_id}/objections",
    tags=["public"],
    status_code=201,
    response_model=ObjectionFiled,
    summary="Public: object to a listing of this dataset during its disclosure",
    responses=errors(404, (409, "no listing of the dataset is in its disclosure period"), 422),
)
def file_objection(
    dataset_id: str, body: ObjectionCreate, session: SessionDep, exchange: ExchangeDep
) -> ObjectionFiled:
    """**Who:** anyone, without a key. While a listing is disclosed, anyone may object to
    it; the listing then waits until a compliance account decides the objection, and an
    upheld one stops it. The transparency page shows the objection's outcome, never its
    words or signer. Logged."""
    objection = governance.file_objection(
        session,
        exchange,
        dataset_id,
        text=body.text,
        filed_by=body.name,
        offer_id=body.offer_id,
    )
    session.commit()
    return ObjectionFiled(id=objection.id, offer_id=objection.offer_id, status=objection.status)


@router.get(
    "/objections",
    tags=["governance"],
    response_model=list[ObjectionPublic],
    summary="Objections to listings, with their words, for compliance to decide",
    responses=role_errors((403, "neither a compliance account nor an auditor or operator"), 422),
)
def list_objections(
    session: ReadSessionDep,
    account: CurrentAccount,
    status: str | None = Query(
        None, pattern="^(open|upheld|rejected)$", description="e.g. open: still to decide"
    ),
    dataset_id: str | None = Query(None, max_length=40),
) -> list[ObjectionPublic]:
    """**Who:** accounts with the `compliance` duty, auditors and operators. Every
    objection filed on a transparency page, oldest first, with the objector's words and
    signature (the public page shows only outcomes); `status=open` lists what awaits a
    decision."""
    found = governance.list_objections(session, account, status=status, dataset_id=dataset_id)
    return [ObjectionPublic.model_validate(o, from_attributes=True) for o in found]


@router.post(
    "/objections/{objection_id}/decision",
    tags=["governance"],
    response_model=ObjectionPublic,
    summary="Decide an objection: uphold it (the listing stops) or reject it",
    responses=role_errors(
        (403, "the account has no compliance duty"),
        404,
        (409, "the objection is already decided"),
        422,
    ),
)
def decide_objection(
    objection_id: str,
    body: ObjectionDecision,
    session: SessionDep,
    account: CurrentAccount,
    exchange: ExchangeDep,
) -> ObjectionPublic:
    """**Who:** accounts with the `compliance` duty. An upheld objection stops the listing
    for good; a rejected one lets it go on to the catalog once its disclosure is over and
    no other objection is open. Logged with who, level and reason."""
    objection = governance.decide_objection(
        session, exchange, account, objection_id, uphold=body.uphold, reason=body.reason
    )
    session.commit()
    return ObjectionPublic.model_validate(objection, from_attributes=True)


@router.post(
    "/audit/trace",
    response_model=TraceResult,
    response_model_exclude_unset=True,
    summary="Name the lease a leaked extract came from (multipart field 'file')",
    responses=role_errors(
        (413, "the file is larger than the upload limit"),
        (422, "the file cannot be read or has no rows"),
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {"file": "leak.csv (a CSV or Parquet file found outside)"}
                }
            }
        }
    },
)
def trace_leak(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    file: UploadFile = File(...),
) -> dict[str, Any]:
    """**Who:** auditors and operators (read-only). Scores the file against every lease's per-lease fingerprints
    (pseudonym keys, noise) and names the lease that best explains it, with the margin
    over the next. Writes nothing."""
    data = file.file.read(exchange.settings.max_upload_bytes + 1)
    if len(data) > exchange.settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"the file is larger than the {exchange.settings.max_upload_bytes} bytes allowed"
        )
    leak = trace_svc.read_leak(data, file.filename or "")
    # A read like the other audit views (POST only to carry the file): auditors write nothing.
    return trace_svc.trace(session, exchange, leak)
