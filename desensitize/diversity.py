"""What a release teaches about a sensitive column, class by class (ARX's privacy models).

Beyond distinct l-diversity (at least l values per class, which the gate enforces):

- **entropy l-diversity**: a class's values have entropy at least log(l); the table's
  entropy l is the least ``exp(entropy)`` over its classes;
- **recursive (c, l)-diversity**: with a class's value counts r1 >= r2 >= ... >= rm, the
  most common value is rarer than c times the values from the l-th on,
  ``r1 < c * (rl + ... + rm)``; the table's c is the least c every class meets (none
  with fewer than l values: infinite);
- **t-closeness**: each class's distribution of the value lies within t of the whole
  table's by the earth mover's distance, with all values equally far apart (half the
  sum of absolute differences) or, for ordered values, at their rank distance
  ``sum_i |cumulative difference up to i| / (m - 1)``; the table's t is the largest.

Each class is a distinct combination of the released quasi-identifiers; missing values
are values of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from desensitize.errors import DataError

__all__ = ["DiversityReport", "diversity_report"]


@dataclass(frozen=True)
class DiversityReport:
    """The sensitive column's diversity and closeness over the classes of a release."""

    column: str
    classes: int
    distinct_l: int
    entropy_l: float
    recursive_c: dict[int, float]  # per l, the least c that every class meets
    t_equal: float
    t_ordered: float | None  # for numbers and other ordered values

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "classes": self.classes,
            "distinct_l": self.distinct_l,
            "entropy_l": self.entropy_l,
            "recursive_c": {str(l): c for l, c in self.recursive_c.items()},  # noqa: E741
            "t_closeness": {"equal_distance": self.t_equal, "ordered_distance": self.t_ordered},
        }


def diversity_report(
    df: pd.DataFrame,
    quasi_identifiers: list[str],
    sensitive: str,
    *,
    recursive_l: tuple[int, ...] = (2, 3),
    ordered: bool | None = None,
) -> DiversityReport:
    """Measure `sensitive` over the classes of `quasi_identifiers` in `df` (a release).

    `ordered` says whether the values have an order for t-closeness (default: numbers,
    dates and ordered categoricals do)."""
    missing = [c for c in [*quasi_identifiers, sensitive] if c not in df.columns]
    if missing:
        raise DataError(f"columns not in the table: {', '.join(map(repr, missing))}")
    if not len(df):
        raise DataError("the table has no rows")
    counts, values = _counts(df, quasi_identifiers, sensitive)
    if ordered is None:
        column = df[sensitive]
        ordered = bool(
            pd.api.types.is_numeric_dtype(column)
            or pd.api.types.is_datetime64_any_dtype(column)
            or (isinstance(column.dtype, pd.CategoricalDtype) and column.cat.ordered)
        )
    return DiversityReport(
        column=sensitive,
        classes=counts.shape[0],
        distinct_l=int((counts > 0).sum(axis=1).min()),
        entropy_l=float(np.exp(_entropy(counts).min())),
        recursive_c={l: _recursive_c(counts, l) for l in recursive_l},  # noqa: E741
        t_equal=_t_equal(counts),
        t_ordered=_t_ordered(counts) if ordered and values > 1 else (0.0 if ordered else None),
    )


def _counts(df: pd.DataFrame, qis: list[str], sensitive: str) -> tuple[np.ndarray, int]:
    """Rows per class and sensitive value (values in sorted order), a dense matrix."""
    if qis:
        classes = df.groupby(qis, dropna=False, sort=False).ngroup().to_numpy()
    else:
        classes = np.zeros(len(df), dtype=np.int64)
    codes, uniques = pd.factorize(df[sensitive], sort=True, use_na_sentinel=False)
    n_classes, n_values = int(classes.max()) + 1, len(uniques)
    flat = np.bincount(classes * n_values + codes, minlength=n_classes * n_values)
    return flat.reshape(n_classes, n_values).astype(np.float64), n_values


def _entropy(counts: np.ndarray) -> np.ndarray:
    share = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(share > 0, -share * np.log(share), 0.0)
    return terms.sum(axis=1)


def _recursive_c(counts: np.ndarray, l: int) -> float:  # noqa: E741
    ranked = -np.sort(-counts, axis=1)
    if ranked.shape[1] < l:
        return float("inf")
    tail = ranked[:, l - 1 :].sum(axis=1)
    with np.errstate(divide="ignore"):
        ratio = np.where(tail > 0, ranked[:, 0] / np.where(tail > 0, tail, 1), np.inf)
    return float(ratio.max())


def _t_equal(counts: np.ndarray) -> float:
    share = counts / counts.sum(axis=1, keepdims=True)
    whole = counts.sum(axis=0) / counts.sum()
    return float((np.abs(share - whole).sum(axis=1) / 2).max())


def _t_ordered(counts: np.ndarray) -> float:
    share = counts / counts.sum(axis=1, keepdims=True)
    whole = counts.sum(axis=0) / counts.sum()
    cumulative = np.cumsum(share - whole, axis=1)[:, :-1]
    return float((np.abs(cumulative).sum(axis=1) / (counts.shape[1] - 1)).max())
