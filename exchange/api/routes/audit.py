"""Auditor endpoints (read-only) and the public transparency report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse

from exchange.api.deps import AuditorAccount, ExchangeDep, ReadSessionDep
from exchange.errors import PayloadTooLarge
from exchange.services import audit
from exchange.services import trace as trace_svc

router = APIRouter(prefix="/v1", tags=["audit"])
MAX_INDEX = 2**62  # beyond any log; keeps database integers in range


@router.get("/audit/head", summary="The signed tree head of the verifiable log")
def head(_: AuditorAccount, exchange: ExchangeDep) -> dict[str, Any]:
    return {**exchange.log.head().to_json(), "public_key_pem": exchange.signer.public_pem}


@router.get("/ledger/public-key", summary="The Ed25519 key that signs tree heads (public)")
def public_key(exchange: ExchangeDep) -> dict[str, str]:
    return {
        "public_key_pem": exchange.signer.public_pem,
        "public_key_hex": exchange.signer.public_raw.hex(),
    }


@router.get("/audit/entries")
def entries(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    start: int = Query(0, ge=0, le=MAX_INDEX),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    return [
        {"index": i, "entry": e} for i, e in exchange.log.entries(session, start, start + limit)
    ]


@router.get("/audit/proofs/inclusion")
def inclusion(
    _: AuditorAccount,
    exchange: ExchangeDep,
    index: int = Query(ge=0, le=MAX_INDEX),
    size: int | None = Query(None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    return exchange.log.inclusion(index, size)


@router.get("/audit/proofs/consistency")
def consistency(
    _: AuditorAccount,
    exchange: ExchangeDep,
    old_size: int = Query(ge=1, le=MAX_INDEX),
    new_size: int | None = Query(None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    return exchange.log.consistency(old_size, new_size)


@router.get("/audit/export", summary="JSON lines for `datalease verify-ledger`")
def export(_: AuditorAccount, exchange: ExchangeDep) -> StreamingResponse:
    lines = list(exchange.log.export_lines())
    return StreamingResponse(
        iter(lines),
        media_type="application/x-ndjson",
        headers={"content-disposition": "attachment; filename=ledger.jsonl"},
    )


@router.get("/audit/events", summary="Access and lifecycle events from the verifiable log")
def events(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    start: int = Query(0, ge=0, le=MAX_INDEX),
    limit: int = Query(500, ge=1, le=5000),
    kind: str | None = Query(None, max_length=64),
) -> list[dict[str, Any]]:
    return audit.events(exchange, session, start=start, limit=limit, kind=kind)


@router.get("/audit/budgets", summary="Privacy budget cap and spending per dataset")
def budgets(_: AuditorAccount, session: ReadSessionDep) -> list[dict[str, Any]]:
    return audit.budget_report(session)


@router.get("/audit/revenue", summary="Balances of every party, derived from postings")
def revenue(_: AuditorAccount, session: ReadSessionDep, exchange: ExchangeDep) -> dict[str, Any]:
    return audit.revenue_report(exchange, session)


@router.get(
    "/transparency/{dataset_id}",
    tags=["public"],
    summary="Public: who leases this dataset, for what purpose and period, epsilon spent",
)
def transparency(dataset_id: str, session: ReadSessionDep) -> dict[str, Any]:
    return audit.transparency(session, dataset_id, datetime.now(UTC))


@router.post(
    "/audit/trace",
    summary="Name the lease a leaked extract came from (multipart field 'file')",
)
def trace_leak(
    _: AuditorAccount,
    session: ReadSessionDep,
    exchange: ExchangeDep,
    file: UploadFile = File(...),
) -> dict[str, Any]:
    data = file.file.read(exchange.settings.max_upload_bytes + 1)
    if len(data) > exchange.settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"the file is larger than the {exchange.settings.max_upload_bytes} bytes allowed"
        )
    leak = trace_svc.read_leak(data, file.filename or "")
    # A read like the other audit views (POST only to carry the file): auditors write nothing.
    return trace_svc.trace(session, exchange, leak)
