"""Read-only views for auditors and the public: events, budgets, revenue, transparency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import MICRO, Account, BudgetRequest, BudgetSpend, Dataset, Lease
from exchange.errors import NotFound
from exchange.services import allowance, governance
from exchange.services.lifecycle import effective_status


def events(
    exchange: Exchange, session: Session, *, start: int, limit: int, kind: str | None = None
) -> list[dict[str, Any]]:
    out = []
    for index, entry in exchange.log.entries(session, start, start + limit):
        if entry["type"] == "transaction" or (kind and entry["type"] != kind):
            continue
        out.append(
            {
                "index": index,
                "type": entry["type"],
                "time": entry.get("time"),
                **entry.get("body", {}),
            }
        )
    return out


def budget_report(session: Session) -> list[dict[str, Any]]:
    report = []
    for dataset in session.scalars(select(Dataset).order_by(Dataset.created_at)):
        spends = session.scalars(
            select(BudgetSpend).where(BudgetSpend.dataset_id == dataset.id).order_by(BudgetSpend.id)
        ).all()
        report.append(
            {
                "dataset_id": dataset.id,
                "name": dataset.name,
                "epsilon_cap": dataset.epsilon_cap_micro / MICRO,
                "epsilon_spent": dataset.epsilon_spent_micro / MICRO,
                "epsilon_cap_set_at": _iso(dataset.epsilon_cap_set_at),
                # Queries draw on their lease's reservation, so the reservations are what
                # the dataset itself spent ("profile" rows are from before the profile's
                # estimates moved to the provider's allowance).
                "epsilon_spent_by_entries": sum(
                    s.epsilon_micro for s in spends if s.kind in ("reservation", "profile")
                )
                / MICRO,
                "within_cap": dataset.epsilon_spent_micro <= dataset.epsilon_cap_micro,
                "budget_requests": [
                    _budget_request(r)
                    for r in session.scalars(
                        select(BudgetRequest)
                        .where(BudgetRequest.dataset_id == dataset.id)
                        .order_by(BudgetRequest.created_at, BudgetRequest.id)
                    )
                ],
                "provider_allowance": allowance.report(session, dataset),
                "spends": [
                    {
                        "lease_id": s.lease_id,
                        "kind": s.kind,
                        "epsilon": s.epsilon_micro / MICRO,
                        "time": s.created_at.isoformat(),
                        **s.detail,
                    }
                    for s in spends
                ],
            }
        )
    return report


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _budget_request(r: BudgetRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "status": r.status,
        "epsilon_cap": r.epsilon_cap_micro / MICRO,
        "previous_cap": r.previous_cap_micro / MICRO,
        "reason": r.reason,
        "decided_by": r.decided_by,
        "decision_reason": r.decision_reason,
        "time": r.created_at.isoformat(),
        "decided_at": _iso(r.decided_at),
    }


def revenue_report(exchange: Exchange, session: Session) -> dict[str, Any]:
    balances = exchange.log.balances(exchange.settings.currency)
    return {
        "currency": exchange.settings.currency,
        "balances_minor": balances,
        "sum_minor": sum(balances.values()),
        "balanced": sum(balances.values()) == 0,
    }


def transparency(session: Session, dataset_id: str, now: Any) -> dict[str, Any]:
    """What citizens may know: who leases the data, for what, for how long, with what epsilon."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    provider = session.get(Account, dataset.provider_id)
    leases = session.scalars(
        select(Lease).where(Lease.dataset_id == dataset_id).order_by(Lease.created_at)
    ).all()
    shown = []
    for lease in leases:
        status = effective_status(lease, now)
        if status in ("requested", "rejected"):
            continue
        buyer = session.get(Account, lease.buyer_id)
        shown.append(
            {
                "lease_id": lease.id,
                "organisation": buyer.organisation if buyer else "",
                "purpose": lease.purpose,
                "purpose_text": lease.purpose_text,
                "starts_at": lease.starts_at.isoformat(),
                "ends_at": lease.ends_at.isoformat(),
                "status": status,
                "columns": lease.columns,
                "epsilon": (lease.extract_epsilon_micro + lease.query_epsilon_micro) / MICRO,
            }
        )
    return {
        "dataset_id": dataset.id,
        "name": dataset.name,
        "domain": dataset.domain,
        "grade": dataset.grade,
        "provider": provider.organisation if provider else "",
        "epsilon_cap": dataset.epsilon_cap_micro / MICRO,
        "epsilon_spent": dataset.epsilon_spent_micro / MICRO,
        "leases": shown,
        "listings": governance.disclosures(session, dataset.id, now),
    }
