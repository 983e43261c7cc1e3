"""Differentially private aggregate queries on a leased dataset.

A lease reserves its query epsilon from the dataset's cap when it is paid; each
query then draws on that allowance with one conditional UPDATE, so concurrent
queries can never overspend the lease, and the dataset cap holds by construction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from desensitize.dp import Query, run_query
from desensitize.errors import BudgetExceeded
from exchange.context import Exchange
from exchange.db.models import MICRO, Account, BudgetSpend, Dataset, Lease
from exchange.errors import Invalid
from exchange.services.leases import now_utc
from exchange.services.lifecycle import require_active
from exchange.services.raw import read_raw


def run(
    session: Session, exchange: Exchange, buyer: Account, lease: Lease, body: dict[str, Any]
) -> dict[str, Any]:
    # ``lease`` comes from ``leases.get_lease``, which has already checked its owner.
    require_active(lease, now_utc())
    query = Query.from_dict(body)
    outside = [c for c in query.columns if c not in lease.columns]
    if outside:
        raise Invalid(f"the lease does not cover columns: {', '.join(outside)}")
    dataset = session.get(Dataset, lease.dataset_id)
    assert dataset is not None
    check_columns(query, (dataset.policy or {}).get("columns", {}))
    epsilon = round(query.epsilon * MICRO)
    charged = session.execute(
        update(Lease)
        .where(Lease.id == lease.id, Lease.query_spent_micro + epsilon <= Lease.query_epsilon_micro)
        .values(query_spent_micro=Lease.query_spent_micro + epsilon)
    )
    if charged.rowcount != 1:
        session.refresh(lease)
        raise BudgetExceeded(
            requested=query.epsilon,
            remaining=(lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
        )
    # Only the columns the query touches are decrypted and decoded.
    frame = read_raw(exchange, dataset, columns=list(query.columns) or lease.columns[:1])
    value = run_query(frame, query)
    session.add(
        BudgetSpend(
            dataset_id=dataset.id,
            lease_id=lease.id,
            kind="query",
            epsilon_micro=epsilon,
            detail={"op": query.op},
        )
    )
    exchange.log.record(
        session,
        "dp_query",
        actor=buyer.id,
        lease=lease.id,
        dataset=dataset.id,
        op=query.op,
        columns=list(query.columns),
        epsilon=str(query.epsilon),
    )
    session.refresh(lease)
    return {
        "op": query.op,
        "columns": list(query.columns),
        "value": jsonable(value),
        "epsilon": query.epsilon,
        "lease_epsilon_remaining": (lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
    }


def check_columns(query: Query, specs: dict[str, Any]) -> None:
    """Noise protects values, not group labels: a group-by key is released as it is, so it
    must be a column the policy already releases unchanged; identifiers are never queried."""
    for column in query.columns:
        if specs.get(column, {}).get("class") == "identifier":
            raise Invalid(f"column {column!r} is an identifier; DP queries cannot use it")
    by = getattr(query, "by", None)
    if by and specs.get(by, {}).get("rule") != "keep":
        spec = specs.get(by, {})
        raise Invalid(
            f"group-by column {by!r} is {spec.get('class')} with rule "
            f"{spec.get('rule')!r}; group keys are released as they are, so only "
            "columns the policy keeps unchanged can be grouped by"
        )


def jsonable(value: Any) -> Any:
    """numpy scalars and containers as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
