"""DP values of aggregate queries, each with its accounting record.

Neighbouring tables differ by one person: all of that person's rows. Contribution bounds
(`bounding.py`) keep at most ``m`` rows per person, so a count moves by at most ``m``, a sum
of values clipped to ``[low, high]`` by ``m * max(|low|, |high|)``, and the counts of a
histogram or of groups by ``m`` in all (L1). A mean is a noisy sum of values centred on
the middle of the bounds over a noisy count, each with half the epsilon. Group keys come
from a public domain (noise on every listed group, absent ones too) or from DP partition
selection. Nothing here touches a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from desensitize.dp import noise
from desensitize.dp.accounting import AccountingRecord, exact, float_at_most
from desensitize.dp.bounding import Contribution, keep_rows
from desensitize.dp.query import Query

__all__ = ["Answer", "answer_query", "bounded_rows", "run_query"]


@dataclass(frozen=True)
class Answer:
    """A DP value (JSON-safe) and the record of what it cost."""

    value: Any
    record: AccountingRecord


def run_query(
    df: pd.DataFrame,
    query: Query | dict[str, Any],
    rng: object = None,
    *,
    contribution: Contribution | None = None,
    key: bytes = b"",
) -> Any:
    """The DP value of ``query`` over ``df``, spending no budget (see :func:`answer_query`)."""
    return answer_query(df, query, rng=rng, contribution=contribution, key=key).value


def answer_query(
    df: pd.DataFrame,
    query: Query | dict[str, Any],
    *,
    rng: object = None,
    contribution: Contribution | None = None,
    key: bytes = b"",
    kept: np.ndarray | None = None,
) -> Answer:
    """The DP answer to ``query`` over ``df`` with its accounting record.

    ``contribution`` names the privacy unit and its bounds (default: one row = one
    person); ``key`` keys the choice of the rows each person keeps; ``kept`` passes that
    choice when it was made before (:func:`bounded_rows`). ``rng`` is a
    ``numpy.random.Generator``, an int seed, or ``None`` for the system's secure source.
    """
    q = query if isinstance(query, Query) else Query.from_dict(query)
    q.check_table(df)
    bound = _bound_of(q, contribution or Contribution())
    if kept is None:
        kept = bounded_rows(df, q, bound, key=key)
    # only the query's own columns are gathered: the unit column is no longer needed
    frame = df[q.columns].iloc[kept] if len(kept) != len(df) else df[q.columns]
    return _OPS[q.op](frame, q, bound, _random_state(rng))


def bounded_rows(
    df: pd.DataFrame, query: Query, contribution: Contribution, *, key: bytes
) -> np.ndarray:
    """Positions of the rows ``query`` aggregates: in the public domain if it has one,
    then within each person's bounds."""
    bound = _bound_of(query, contribution)
    if query.groups is not None:
        inside = df[query.by].astype(str).isin([str(g) for g in query.groups]).to_numpy()
        positions = np.flatnonzero(inside)
        return positions[keep_rows(df.iloc[positions], bound, key=key, by=query.by)]
    return keep_rows(df, bound, key=key, by=query.by)


def _bound_of(q: Query, contribution: Contribution) -> Contribution:
    if q.max_groups is None or contribution.unit is None:
        return contribution
    return Contribution(contribution.unit, contribution.max_rows, q.max_groups)


def _random_state(rng: object) -> np.random.RandomState | None:
    """diffprivlib takes a RandomState; seed one from a Generator so draws follow ``rng``."""
    if rng is None:
        return None
    if isinstance(rng, np.random.Generator):
        return np.random.RandomState(int(rng.integers(2**32)))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.RandomState(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, not {rng!r}")


def _record(
    q: Query,
    bound: Contribution,
    mechanism: str,
    sensitivity: float,
    *,
    delta: Fraction = Fraction(0),
    domain: str | None = None,
) -> AccountingRecord:
    return AccountingRecord(
        op=q.op,
        columns=tuple(q.columns),
        mechanism=mechanism,
        epsilon=exact(q.epsilon),
        delta=delta,
        sensitivity=float(sensitivity),
        unit=bound.describe(),
        max_rows=bound.rows,
        max_groups=bound.groups(True) if q.grouped else None,
        domain=domain,
    )


def _values(df: pd.DataFrame, column: str) -> np.ndarray:
    values = df[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values)]


def _count(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    true = len(df) if q.column is None else int(df[q.column].notna().sum())
    eps = float_at_most(exact(q.epsilon))
    value = noise.geometric(true, epsilon=eps, sensitivity=bound.rows, state=state)
    return Answer(value, _record(q, bound, "geometric (discrete Laplace)", bound.rows))


def _sum(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    sensitivity = bound.rows * max(abs(low), abs(high))
    total = float(np.clip(_values(df, q.column), low, high).sum())  # type: ignore[arg-type]
    eps = float_at_most(exact(q.epsilon))
    value = noise.laplace(total, epsilon=eps, sensitivity=sensitivity, state=state)
    return Answer(value, _record(q, bound, "Laplace", sensitivity))


def _mean(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    middle, half = (low + high) / 2, (high - low) / 2
    values = np.clip(_values(df, q.column), low, high)  # type: ignore[arg-type]
    eps = float_at_most(exact(q.epsilon) / 2)
    centred = noise.laplace(
        float((values - middle).sum()), epsilon=eps, sensitivity=bound.rows * half, state=state
    )
    count = noise.geometric(len(values), epsilon=eps, sensitivity=bound.rows, state=state)
    value = float(np.clip(middle + centred / max(count, 1), low, high))
    return Answer(value, _record(q, bound, "Laplace sum / geometric count", bound.rows * half))


def _histogram(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    counts, edges = np.histogram(_values(df, q.column), bins=q.bins, range=q.range)  # type: ignore[arg-type]
    eps = float_at_most(exact(q.epsilon))
    noisy = [noise.geometric(c, epsilon=eps, sensitivity=bound.rows, state=state) for c in counts]
    value = {"counts": noisy, "edges": [float(e) for e in edges]}
    return Answer(value, _record(q, bound, "geometric per bin", bound.rows, domain="public"))


def _labels(df: pd.DataFrame, q: Query) -> pd.Series:
    return df[q.by].astype(str) if len(df) else pd.Series([], dtype=str)


def _sizes(df: pd.DataFrame, q: Query) -> pd.Series:
    """Rows per group label, counted before the labels become strings (fewer to convert)."""
    counts = df[q.by].value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical column lists labels no kept row has
    return counts.groupby(counts.index.astype(str)).sum()


def _group_count(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    sizes = _sizes(df, q)
    sensitivity = bound.rows
    if q.groups is not None:
        eps = float_at_most(exact(q.epsilon))
        sizes = sizes.reindex([str(g) for g in q.groups], fill_value=0)
        value = {
            k: noise.geometric(int(n), epsilon=eps, sensitivity=sensitivity, state=state)
            for k, n in sizes.items()
        }
        return Answer(value, _record(q, bound, "geometric per group", sensitivity, domain="public"))
    delta = q.cost[1]
    value = noise.threshold_counts(
        sizes.to_dict(),
        epsilon=float_at_most(exact(q.epsilon)),
        delta=float_at_most(delta),
        groups=bound.groups(True),
        rows=bound.rows,
    )
    record = _record(
        q,
        bound,
        "discrete Laplace + threshold (OpenDP)",
        sensitivity,
        delta=delta,
        domain="partition selection",
    )
    return Answer(dict(sorted(value.items())), record)


def _group_sum(df: pd.DataFrame, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    sensitivity = bound.rows * max(abs(low), abs(high))
    labels = _labels(df, q)
    values = pd.to_numeric(df[q.column]).astype("float64").clip(low, high)
    sums = values.groupby(labels.to_numpy()).sum()  # NaN values are skipped
    if q.groups is not None:
        keys, eps, delta, domain = (
            [str(g) for g in q.groups],
            exact(q.epsilon),
            Fraction(0),
            "public",
        )
        mechanism = "Laplace per group"
    else:  # half the epsilon selects the groups by their counts, half noises their sums
        eps, delta, domain = exact(q.epsilon) / 2, q.cost[1], "partition selection"
        keys = sorted(
            noise.threshold_counts(
                _sizes(df, q).to_dict(),
                epsilon=float_at_most(eps),
                delta=float_at_most(delta),
                groups=bound.groups(True),
                rows=bound.rows,
            )
        )
        mechanism = "discrete Laplace + threshold (OpenDP), then Laplace per group"
    sums = sums.reindex(keys, fill_value=0.0)
    value = {
        k: noise.laplace(float(v), epsilon=float_at_most(eps), sensitivity=sensitivity, state=state)
        for k, v in sums.items()
    }
    return Answer(value, _record(q, bound, mechanism, sensitivity, delta=delta, domain=domain))


_OPS = {
    "count": _count,
    "sum": _sum,
    "mean": _mean,
    "histogram": _histogram,
    "group_count": _group_count,
    "group_sum": _group_sum,
}
