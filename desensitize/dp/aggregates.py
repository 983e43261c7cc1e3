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

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from desensitize.dp import noise
from desensitize.dp.accounting import AccountingRecord, exact, float_at_most
from desensitize.dp.bounding import Contribution, keep_rows
from desensitize.dp.query import Query

__all__ = ["Answer", "Tally", "answer_query", "bounded_rows", "noisy_answer", "run_query", "tally"]


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
    return noisy_answer(tally(frame, q), q, bound, _random_state(rng))


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


@dataclass
class Tally:
    """The exact figures a query's noise is added to, over some rows: tallies of disjoint
    sets of whole persons add up (see :meth:`add`), so a cluster can tally its pieces and
    one place adds them and draws the noise once (:func:`noisy_answer`)."""

    rows: int = 0  # rows counted (count), values seen (mean)
    total: float = 0.0  # clipped sum (sum), centred clipped sum (mean)
    bins: np.ndarray | None = None  # histogram counts
    sizes: dict[str, int] = field(default_factory=dict)  # rows per group label
    sums: dict[str, float] = field(default_factory=dict)  # clipped sum per group label

    def add(self, other: Tally) -> Tally:
        self.rows += other.rows
        self.total += other.total
        if other.bins is not None:
            self.bins = other.bins.copy() if self.bins is None else self.bins + other.bins
        for label, rows in other.sizes.items():
            self.sizes[label] = self.sizes.get(label, 0) + rows
        for label, total in other.sums.items():
            self.sums[label] = self.sums.get(label, 0.0) + total
        return self


def tally(df: pd.DataFrame, query: Query) -> Tally:
    """The exact figures of ``query`` over the rows of ``df`` (already bounded)."""
    q = query
    if q.op == "count":
        return Tally(rows=len(df) if q.column is None else int(df[q.column].notna().sum()))
    if q.op == "histogram":
        counts, _ = np.histogram(_values(df, q.column), bins=q.bins, range=q.range)  # type: ignore[arg-type]
        return Tally(bins=counts.astype(np.int64))
    if q.op == "group_count":
        return Tally(sizes={k: int(n) for k, n in _sizes(df, q).items()})
    low, high = q.bounds  # type: ignore[misc]
    if q.op == "group_sum":
        values = pd.to_numeric(df[q.column]).astype("float64").clip(low, high)
        sums = values.groupby(_labels(df, q).to_numpy()).sum()  # NaN values are skipped
        sizes = _sizes(df, q) if q.groups is None else pd.Series(dtype=np.int64)
        return Tally(
            sizes={k: int(n) for k, n in sizes.items()},
            sums={str(k): float(v) for k, v in sums.items()},
        )
    values = np.clip(_values(df, q.column), low, high)  # type: ignore[arg-type]
    if q.op == "mean":
        return Tally(rows=len(values), total=float((values - (low + high) / 2).sum()))
    return Tally(total=float(values.sum()))


def noisy_answer(figures: Tally, query: Query, contribution: Contribution, state: Any) -> Answer:
    """The DP answer from the exact figures of the bounded rows: the noise is drawn here."""
    return _OPS[query.op](figures, query, _bound_of(query, contribution), state)


def _count(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    eps = float_at_most(exact(q.epsilon))
    value = noise.geometric(t.rows, epsilon=eps, sensitivity=bound.rows, state=state)
    return Answer(value, _record(q, bound, "geometric (discrete Laplace)", bound.rows))


def _sum(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    sensitivity = bound.rows * max(abs(low), abs(high))
    eps = float_at_most(exact(q.epsilon))
    value = noise.laplace(t.total, epsilon=eps, sensitivity=sensitivity, state=state)
    return Answer(value, _record(q, bound, "Laplace", sensitivity))


def _mean(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    middle, half = (low + high) / 2, (high - low) / 2
    eps = float_at_most(exact(q.epsilon) / 2)
    centred = noise.laplace(t.total, epsilon=eps, sensitivity=bound.rows * half, state=state)
    count = noise.geometric(t.rows, epsilon=eps, sensitivity=bound.rows, state=state)
    value = float(np.clip(middle + centred / max(count, 1), low, high))
    return Answer(value, _record(q, bound, "Laplace sum / geometric count", bound.rows * half))


def _histogram(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    counts = t.bins if t.bins is not None else np.zeros(q.bins or 0, np.int64)
    edges = np.histogram_bin_edges([], bins=q.bins, range=q.range)  # type: ignore[arg-type]
    eps = float_at_most(exact(q.epsilon))
    noisy = [
        noise.geometric(int(c), epsilon=eps, sensitivity=bound.rows, state=state) for c in counts
    ]
    value = {"counts": noisy, "edges": [float(e) for e in edges]}
    return Answer(value, _record(q, bound, "geometric per bin", bound.rows, domain="public"))


def _labels(df: pd.DataFrame, q: Query) -> pd.Series:
    return df[q.by].astype(str) if len(df) else pd.Series([], dtype=str)


def _sizes(df: pd.DataFrame, q: Query) -> pd.Series:
    """Rows per group label, counted before the labels become strings (fewer to convert)."""
    counts = df[q.by].value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical column lists labels no kept row has
    return counts.groupby(counts.index.astype(str)).sum()


def _group_count(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    sensitivity = bound.rows
    if q.groups is not None:
        eps = float_at_most(exact(q.epsilon))
        value = {
            str(g): noise.geometric(
                t.sizes.get(str(g), 0), epsilon=eps, sensitivity=sensitivity, state=state
            )
            for g in q.groups
        }
        return Answer(value, _record(q, bound, "geometric per group", sensitivity, domain="public"))
    delta = q.cost[1]
    value = noise.threshold_counts(
        dict(t.sizes),
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


def _group_sum(t: Tally, q: Query, bound: Contribution, state: Any) -> Answer:
    low, high = q.bounds  # type: ignore[misc]
    sensitivity = bound.rows * max(abs(low), abs(high))
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
                dict(t.sizes),
                epsilon=float_at_most(eps),
                delta=float_at_most(delta),
                groups=bound.groups(True),
                rows=bound.rows,
            )
        )
        mechanism = "discrete Laplace + threshold (OpenDP), then Laplace per group"
    value = {
        k: noise.laplace(
            t.sums.get(k, 0.0), epsilon=float_at_most(eps), sensitivity=sensitivity, state=state
        )
        for k in keys
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
