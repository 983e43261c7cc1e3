"""A provider's revenue statement, derived from ledger postings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from contracts import provider_account
from exchange.api.deps import ExchangeDep, ProviderAccount, ReadSessionDep

router = APIRouter(prefix="/v1", tags=["revenue"])


@router.get("/revenue")
def statement(
    provider: ProviderAccount, session: ReadSessionDep, exchange: ExchangeDep
) -> dict[str, Any]:
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
