"""Charge a budget for a DP aggregate and return the value with its accounting record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from desensitize.dp.aggregates import run_query
from desensitize.dp.budget import Budget
from desensitize.dp.query import Query

__all__ = ["AccountingRecord", "Release", "release"]


@dataclass(frozen=True)
class AccountingRecord:
    """What one release cost and where it left the budget."""

    op: str
    columns: tuple[str, ...]
    epsilon: float
    delta: float
    spent_before: float
    spent_after: float
    cap: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "columns": list(self.columns)}


@dataclass(frozen=True)
class Release:
    """A DP value (float, int, dict or list: JSON-safe), its cost and its record."""

    value: Any
    epsilon: float
    delta: float
    record: AccountingRecord

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "record": self.record.to_dict(),
        }


def release(
    df: pd.DataFrame, query: Query | dict[str, Any], budget: Budget, *, rng: object = None
) -> Release:
    """Run ``query`` over ``df`` and charge ``budget`` for it.

    The budget is checked before anything is computed and charged only after the value
    exists: a refused or failed query costs nothing (:class:`BudgetExceeded` says what
    is left).
    """
    q = query if isinstance(query, Query) else Query.from_dict(query)
    q.check_table(df)
    budget.check(q.epsilon)
    value = run_query(df, q, rng)
    before, after = budget.spend(q.epsilon)
    record = AccountingRecord(
        op=q.op,
        columns=tuple(q.columns),
        epsilon=q.epsilon,
        delta=q.delta,
        spent_before=before,
        spent_after=after,
        cap=budget.cap,
    )
    return Release(value=value, epsilon=q.epsilon, delta=q.delta, record=record)
