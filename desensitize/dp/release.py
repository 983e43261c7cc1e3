"""Charge a budget for a DP aggregate and return the value with its accounting record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from desensitize.dp.accounting import AccountingRecord
from desensitize.dp.aggregates import answer_query
from desensitize.dp.bounding import Contribution
from desensitize.dp.budget import Budget
from desensitize.dp.query import Query

__all__ = ["Release", "release"]


@dataclass(frozen=True)
class Release:
    """A DP value (float, int, dict or list: JSON-safe), its record and where it left the
    budget."""

    value: Any
    record: AccountingRecord
    spent_before: float
    spent_after: float
    cap: float

    @property
    def epsilon(self) -> float:
        return float(self.record.epsilon)

    @property
    def delta(self) -> float:
        return float(self.record.delta)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "record": {
                **self.record.to_dict(),
                "spent_before": self.spent_before,
                "spent_after": self.spent_after,
                "cap": self.cap,
            },
        }


def release(
    df: pd.DataFrame,
    query: Query | dict[str, Any],
    budget: Budget,
    *,
    rng: object = None,
    contribution: Contribution | None = None,
    key: bytes = b"",
) -> Release:
    """Run ``query`` over ``df`` and charge ``budget`` for it.

    The budget is checked before anything is computed and charged only after the value
    exists: a refused or failed query costs nothing (:class:`BudgetExceeded` says what
    is left). Budgets count epsilon; the delta of partition selection is in the record.
    """
    q = query if isinstance(query, Query) else Query.from_dict(query)
    q.check_table(df)
    budget.check(q.epsilon)
    answer = answer_query(df, q, rng=rng, contribution=contribution, key=key)
    before, after = budget.spend(q.epsilon)
    return Release(
        value=answer.value,
        record=answer.record,
        spent_before=before,
        spent_after=after,
        cap=budget.cap,
    )
