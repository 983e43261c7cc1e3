"""A provider's revenue statement, derived from ledger postings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from contracts import provider_account
from exchange.api.deps import ExchangeDep, ProviderAccount, ReadSessionDep
from exchange.api.openapi import role_errors
from exchange.api.schemas import RevenueStatement

router = APIRouter(prefix="/v1", tags=["revenue"])


@router.get(
    "/revenue",
    response_model=RevenueStatement,
    summary="The provider's revenue statement: each posting and the balance",
    responses=role_errors(),
)
def statement(
    provider: ProviderAccount, session: ReadSessionDep, exchange: ExchangeDep
) -> dict[str, Any]:
    """**Who:** providers, for their own ledger account. Every posting the ledger made to
    it (its share of each paid lease, refunds), in fen, and the balance."""
    account = provider_account(provider.id)
    lines = []
    for index, entry in exchange.log.entries(session, entry_type="transaction"):
        for posting in entry["postings"]:
            if posting["account"] == account:
                lines.append(
                    {
                        "index": index,
                        "kind": entry["kind"],
                        "time": entry["time"],
                        "lease_id": entry["meta"].get("lease_id"),
                        "amount_minor": posting["amount_minor"],
                    }
                )
    return {
        "account": account,
        "currency": exchange.settings.currency,
        "balance_minor": sum(line["amount_minor"] for line in lines),
        "postings": lines,
    }
