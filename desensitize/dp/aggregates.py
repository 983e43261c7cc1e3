"""DP values of aggregate queries, through diffprivlib's tools and mechanisms.

Neighbouring tables differ by adding or removing one record, the model in which
diffprivlib's counts and histograms have sensitivity 1. So a sum over values clipped to
``[low, high]`` has sensitivity ``max(|low|, |high|)``; a mean is a noisy sum over a noisy
count, each with half the epsilon. Group-by releases add noise to every group; one record
touches one group only, so the groups compose in parallel and the query costs its epsilon
once. Nothing here touches a budget: diffprivlib gets a throwaway accountant each time.
"""

from __future__ import annotations

from sys import maxsize
from typing import Any

import numpy as np
import pandas as pd
from diffprivlib import BudgetAccountant
from diffprivlib import tools as dp_tools
from diffprivlib.mechanisms import GeometricTruncated, Laplace

from desensitize.dp.query import Query

__all__ = ["run_query"]


def run_query(df: pd.DataFrame, query: Query | dict[str, Any], rng: object = None) -> Any:
    """The DP value of ``query`` over ``df`` (JSON-safe), spending no budget.

    ``rng`` may be a ``numpy.random.Generator`` or an int seed for reproducible noise;
    ``None`` (the default) draws from the operating system's secure generator.
    """
    q = query if isinstance(query, Query) else Query.from_dict(query)
    q.check_table(df)
    state = _random_state(rng)
    return _OPS[q.op](df, q, state)


def _random_state(rng: object) -> np.random.RandomState | None:
    """diffprivlib takes a RandomState; seed one from a Generator so draws follow ``rng``."""
    if rng is None:
        return None
    if isinstance(rng, np.random.Generator):
        return np.random.RandomState(int(rng.integers(2**32)))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.RandomState(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, not {rng!r}")


def _count(df: pd.DataFrame, q: Query, state: Any) -> int:
    present = np.ones(len(df), bool) if q.column is None else df[q.column].notna().to_numpy()
    return int(
        dp_tools.count_nonzero(
            present, epsilon=q.epsilon, random_state=state, accountant=BudgetAccountant()
        )
    )


def _values(df: pd.DataFrame, q: Query) -> np.ndarray:
    values = df[q.column].to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def _noisy_sum(
    clipped_sum: float, bounds: tuple[float, float], epsilon: float, state: Any
) -> float:
    """Laplace noise for a sum of values clipped to ``bounds``."""
    sensitivity = max(abs(bounds[0]), abs(bounds[1]))
    mechanism = Laplace(epsilon=epsilon, delta=0.0, sensitivity=sensitivity, random_state=state)
    return float(mechanism.randomise(float(clipped_sum)))


def _noisy_count(count: int, epsilon: float, state: Any) -> int:
    mechanism = GeometricTruncated(
        epsilon=epsilon, sensitivity=1, lower=0, upper=maxsize, random_state=state
    )
    return int(mechanism.randomise(int(count)))


def _sum(df: pd.DataFrame, q: Query, state: Any) -> float:
    clipped = np.clip(_values(df, q), *q.bounds)  # type: ignore[misc]
    return _noisy_sum(clipped.sum(), q.bounds, q.epsilon, state)  # type: ignore[arg-type]


def _mean(df: pd.DataFrame, q: Query, state: Any) -> float:
    low, high = q.bounds  # type: ignore[misc]
    values = np.clip(_values(df, q), low, high)
    total = _noisy_sum(values.sum(), (low, high), q.epsilon / 2, state)
    count = _noisy_count(len(values), q.epsilon / 2, state)
    return float(np.clip(total / max(count, 1), low, high))


def _histogram(df: pd.DataFrame, q: Query, state: Any) -> dict[str, list]:
    counts, edges = dp_tools.histogram(
        _values(df, q),
        epsilon=q.epsilon,
        bins=q.bins,
        range=q.range,
        random_state=state,
        accountant=BudgetAccountant(),
    )
    return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}


def _per_group(df: pd.DataFrame, q: Query, series: pd.Series, how: str) -> pd.Series:
    """Per-group ``how`` (size or sum) over the public domain, or the keys present."""
    grouped = series.groupby(df[q.by], dropna=True, observed=True)
    result = grouped.size() if how == "size" else grouped.sum()
    return result if q.groups is None else result.reindex(list(q.groups), fill_value=0)


def _group_count(df: pd.DataFrame, q: Query, state: Any) -> dict[str, int]:
    sizes = _per_group(df, q, pd.Series(np.ones(len(df)), index=df.index), "size")
    return {str(k): _noisy_count(int(n), q.epsilon, state) for k, n in sizes.items()}


def _group_sum(df: pd.DataFrame, q: Query, state: Any) -> dict[str, float]:
    clipped = pd.to_numeric(df[q.column]).astype("float64").clip(*q.bounds)  # type: ignore[misc]
    sums = _per_group(df, q, clipped, "sum")  # NaN values are skipped
    return {str(k): _noisy_sum(float(v), q.bounds, q.epsilon, state) for k, v in sums.items()}  # type: ignore[arg-type]


_OPS = {
    "count": _count,
    "sum": _sum,
    "mean": _mean,
    "histogram": _histogram,
    "group_count": _group_count,
    "group_sum": _group_sum,
}
