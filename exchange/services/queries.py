"""Differentially private aggregate queries on a leased dataset, per person.

A lease reserves its query epsilon from the dataset's cap when it is paid; each query then
draws on that allowance with one conditional UPDATE, so concurrent queries can never
overspend the lease, and the dataset cap holds by construction. Charges are whole micro
units rounded up, and the minimum epsilon per query bounds how many queries an allowance
pays for. Queries run on the raw table through the policy's privacy unit: each person
keeps at most ``max_rows`` rows (chosen under a key of the lease, so repeated queries see
the same rows), and the noise is calibrated to that bound. Decoded columns and the rows
each lease keeps are cached per process, so a query does not decrypt the table again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from desensitize.dp import Answer, Contribution, Query, answer_query, bounded_rows, micro_units
from desensitize.errors import BudgetExceeded
from exchange.context import Exchange
from exchange.db.dml import rowcount
from exchange.db.models import MICRO, Account, BudgetSpend, Dataset, Lease
from exchange.errors import Conflict, Invalid, MissingRow
from exchange.services import cluster
from exchange.services.leases import now_utc
from exchange.services.lifecycle import require_active
from exchange.services.raw import read_raw

PICO = 10**12
# What one lease may spend in delta over all its queries: ten group queries without a
# public domain at the default delta of 1e-7. Delta is the chance a rare group leaks, so
# it must stay well below one over the number of persons.
LEASE_DELTA_PICO = 1_000_000


@dataclass(frozen=True)
class Answered:
    """A computed answer not yet released: it goes out only once its charge commits."""

    lease_id: str
    dataset_id: str
    query: Query
    epsilon_micro: int
    delta_pico: int
    value: Any
    record: dict[str, Any]


def run(
    session: Session, exchange: Exchange, buyer: Account, lease: Lease, body: dict[str, Any]
) -> dict[str, Any]:
    """Compute and charge in one session (the caller commits)."""
    return charge(session, exchange, buyer, compute(session, exchange, lease, body))


def compute(session: Session, exchange: Exchange, lease: Lease, body: dict[str, Any]) -> Answered:
    """Check and compute a query; reads only, so the route runs it outside its write
    transaction and the write lock is held just for the charge."""
    # ``lease`` comes from ``leases.get_lease``, which has already checked its owner.
    require_active(lease, now_utc())
    query = Query.from_dict(body)
    outside = [c for c in query.columns if c not in lease.columns]
    if outside:
        raise Invalid(f"the lease does not cover columns: {', '.join(outside)}")
    dataset = session.get(Dataset, lease.dataset_id)
    if dataset is None:
        raise MissingRow("datasets", lease.dataset_id)
    check_columns(query, (dataset.policy or {}).get("columns", {}))
    contribution = contribution_of(dataset.policy or {})
    epsilon = micro_units(query.epsilon)
    delta = _pico_units(query.cost[1])
    # Refuse a spent allowance before the work; the charge re-checks it atomically.
    _check_allowance(lease, epsilon, query.epsilon, delta)
    if exchange.settings.dask_scheduler:
        answer = cluster.answer_query(
            exchange, dataset, query, contribution, _lease_key(exchange, lease)
        )
    else:
        answer = _answer_here(exchange, dataset, lease, query, contribution)
    return Answered(
        lease_id=lease.id,
        dataset_id=dataset.id,
        query=query,
        epsilon_micro=epsilon,
        delta_pico=delta,
        value=answer.value,
        record=answer.record.to_dict(),
    )


def _answer_here(
    exchange: Exchange, dataset: Dataset, lease: Lease, query: Query, contribution: Contribution
) -> Answer:
    """The answer from the raw columns this process keeps in its cache, with the rows each
    person keeps remembered per lease and grouping."""
    frame = table(exchange, dataset, [*query.columns, *_unit_columns(contribution)])
    kept = exchange.query_cache.get_or_make(
        (
            "kept",
            dataset.id,
            dataset.raw_sha256,
            lease.id,
            query.by,
            query.groups,
            query.max_groups,
            contribution,
        ),
        lambda: bounded_rows(frame, query, contribution, key=_lease_key(exchange, lease)),
    )
    return answer_query(frame, query, contribution=contribution, kept=kept)


def charge(
    session: Session, exchange: Exchange, buyer: Account, answered: Answered
) -> dict[str, Any]:
    """Charge the lease for a computed answer and record it; the answer is released only
    if this commits. The lease is read again here: it may have ended since the compute."""
    lease = session.get(Lease, answered.lease_id, populate_existing=True)
    if lease is None:
        raise MissingRow("leases", answered.lease_id)
    require_active(lease, now_utc())
    query, epsilon, record = answered.query, answered.epsilon_micro, answered.record
    _charge(session, lease, epsilon, query.epsilon, answered.delta_pico)
    session.add(
        BudgetSpend(
            dataset_id=answered.dataset_id,
            lease_id=lease.id,
            kind="query",
            epsilon_micro=epsilon,
            detail={"op": query.op, "accounting": record},
        )
    )
    exchange.log.record(
        session,
        "dp_query",
        actor=buyer.id,
        lease=lease.id,
        dataset=answered.dataset_id,
        op=query.op,
        columns=list(query.columns),
        epsilon=str(query.epsilon),
        epsilon_micro=epsilon,
        delta=record["delta_exact"],
    )
    session.refresh(lease)
    return {
        "op": query.op,
        "columns": list(query.columns),
        "value": jsonable(answered.value),
        "epsilon": query.epsilon,
        "delta": record["delta"],
        "unit": record["unit"],
        "accounting": record,
        "lease_epsilon_remaining": (lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
    }


def _charge(
    session: Session, lease: Lease, epsilon_micro: int, requested: float, delta_pico: int = 0
) -> None:
    """One conditional UPDATE: concurrent queries can never overspend the allowance, in
    epsilon or in the delta that partition selection costs."""
    charged = session.execute(
        update(Lease)
        .where(
            Lease.id == lease.id,
            Lease.query_spent_micro + epsilon_micro <= Lease.query_epsilon_micro,
            Lease.query_delta_spent_pico + delta_pico <= LEASE_DELTA_PICO,
        )
        .values(
            query_spent_micro=Lease.query_spent_micro + epsilon_micro,
            query_delta_spent_pico=Lease.query_delta_spent_pico + delta_pico,
        )
    )
    if rowcount(charged) != 1:
        session.refresh(lease)
        _check_allowance(lease, epsilon_micro, requested, delta_pico)
        raise BudgetExceeded(
            requested=requested,
            remaining=(lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
        )


def _check_allowance(lease: Lease, epsilon_micro: int, requested: float, delta_pico: int) -> None:
    """Raise if the lease cannot pay for a query, as last read."""
    if lease.query_delta_spent_pico + delta_pico > LEASE_DELTA_PICO:
        left = (LEASE_DELTA_PICO - lease.query_delta_spent_pico) / PICO
        raise Conflict(
            f"the lease's delta allowance of {LEASE_DELTA_PICO / PICO:g} is spent "
            f"({left:g} left): group queries without a public 'groups' list cost delta; "
            "give the groups, which costs none",
            code="delta_exceeded",
        )
    if lease.query_spent_micro + epsilon_micro > lease.query_epsilon_micro:
        raise BudgetExceeded(
            requested=requested,
            remaining=(lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
        )


def _pico_units(delta: Fraction) -> int:
    """Delta in units of 1e-12, rounded up: an allowance is never under-counted."""
    return math.ceil(delta * PICO)


def contribution_of(policy: dict[str, Any]) -> Contribution:
    """The policy's privacy unit as a contribution bound; without one, one row = one
    person. A unit without ``max_rows`` keeps one row per person, the safe default."""
    unit = policy.get("privacy_unit")
    if not unit:
        return Contribution()
    return Contribution(unit["column"], int(unit.get("max_rows") or 1))


def unit_summary(policy: dict[str, Any]) -> dict[str, Any]:
    """What a buyer is told about the privacy unit of DP queries on a dataset."""
    bound = contribution_of(policy)
    out: dict[str, Any] = {"unit": bound.describe()}
    if bound.unit is not None:
        out["max_rows"] = bound.max_rows
    return out


def _unit_columns(contribution: Contribution) -> list[str]:
    return [contribution.unit] if contribution.unit is not None else []


def _lease_key(exchange: Exchange, lease: Lease) -> bytes:
    return exchange.master.derive(f"dp-rows:{lease.id}")


def table(exchange: Exchange, dataset: Dataset, columns: list[str]) -> pd.DataFrame:
    """Raw columns of ``dataset``, decoded once per process and then read from the cache."""
    # a count over no column needs the rows only: any one column gives them
    names = list(dict.fromkeys(columns)) or [dataset.schema[0]["name"]]
    cache = exchange.query_cache
    found = {c: cache.get(("column", dataset.id, dataset.raw_sha256, c)) for c in names}
    missing = [c for c, v in found.items() if v is None]
    if missing:
        read = read_raw(exchange, dataset, columns=missing)
        for c in missing:
            found[c] = cache.put(("column", dataset.id, dataset.raw_sha256, c), _compact(read[c]))
    return pd.concat([found[c] for c in names], axis=1, copy=False)


def _compact(column: pd.Series) -> pd.Series:
    """Text with repeated values is kept as a categorical: smaller in the cache, and
    grouping and counting work on integer codes instead of hashing every string."""
    if column.dtype == object and column.nunique(dropna=True) <= len(column) // 2:
        return column.astype("category")
    return column


def budget_ledger(session: Session, lease: Lease) -> dict[str, Any]:
    """The lease's query allowance and every query's spend with its accounting record."""
    spends = session.scalars(
        select(BudgetSpend)
        .where(BudgetSpend.lease_id == lease.id, BudgetSpend.kind == "query")
        .order_by(BudgetSpend.id)
    ).all()
    queries = [
        {
            "at": spend.created_at.isoformat(),
            "op": spend.detail.get("op"),
            "epsilon_micro": spend.epsilon_micro,
            **(spend.detail.get("accounting") or {}),
        }
        for spend in spends
    ]
    delta = sum((Fraction(q.get("delta_exact", "0")) for q in queries), Fraction(0))
    return {
        "lease_id": lease.id,
        "epsilon_allowance": lease.query_epsilon_micro / MICRO,
        "epsilon_spent": lease.query_spent_micro / MICRO,
        "epsilon_remaining": (lease.query_epsilon_micro - lease.query_spent_micro) / MICRO,
        "epsilon_spent_by_queries": sum(s.epsilon_micro for s in spends) / MICRO,
        "delta_allowance": LEASE_DELTA_PICO / PICO,
        "delta_spent": float(delta),
        "delta_spent_exact": str(delta),
        "delta_charged": lease.query_delta_spent_pico / PICO,
        "unit": "micro epsilon, each query rounded up",
        "queries": queries,
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
