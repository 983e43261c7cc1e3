"""Re-identification risk over quasi-identifiers, and utility lost by desensitizing.

Risk follows the prosecutor model: an attacker who knows a person is in the table and
knows their quasi-identifier values picks one record of that person's equivalence class,
so the chance of re-identifying them is ``1 / class size``. The maximum is the worst row's
risk; the mean over rows is ``classes / rows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from desensitize.errors import DataError

__all__ = [
    "ColumnUtility",
    "RiskReport",
    "SizeBucket",
    "UtilityReport",
    "class_size_histogram",
    "risk_report",
    "utility_report",
]

_NULL = object()  # stands for a missing value when comparing cells


@dataclass(frozen=True)
class SizeBucket:
    """Equivalence classes whose size lies in ``min_size..max_size``, and the rows they hold."""

    min_size: int
    max_size: int
    classes: int
    rows: int

    def to_dict(self) -> dict[str, int]:
        return {
            "min_size": self.min_size,
            "max_size": self.max_size,
            "classes": self.classes,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class RiskReport:
    """Equivalence-class figures of a table over its quasi-identifiers."""

    rows: int
    k: int
    quasi_identifiers: tuple[str, ...]
    classes: int
    smallest_class: int
    rows_below_k: float
    unique_rows: float
    max_risk: float
    mean_risk: float
    # The whole distribution, not just its minimum: a policy that lifts the smallest class
    # to k may still leave most rows in classes barely above it.
    class_size_histogram: tuple[SizeBucket, ...] = ()

    @property
    def is_k_anonymous(self) -> bool:
        return self.rows == 0 or self.smallest_class >= self.k

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "k": self.k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "rows_below_k": self.rows_below_k,
            "unique_rows": self.unique_rows,
            "max_risk": self.max_risk,
            "mean_risk": self.mean_risk,
            "k_anonymous": self.is_k_anonymous,
            "class_sizes": [bucket.to_dict() for bucket in self.class_size_histogram],
        }


def risk_report(df: pd.DataFrame, quasi_identifiers: list[str], k: int) -> RiskReport:
    """Equivalence classes of ``df`` over ``quasi_identifiers`` (nulls form their own value).

    With no quasi-identifiers every row is in one class; an empty table has no classes
    and no risk.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    qis = list(quasi_identifiers)
    _check_columns(df, qis, "quasi-identifier")
    return risk_from_class_sizes(_class_sizes(df, qis), qis, int(k))


def risk_from_class_sizes(sizes: np.ndarray, quasi_identifiers: list[str], k: int) -> RiskReport:
    """The report from equivalence-class sizes alone (what a streamed table leaves behind)."""
    qis = tuple(quasi_identifiers)
    rows = int(sizes.sum())
    if rows == 0:
        return RiskReport(0, k, qis, 0, 0, 0.0, 0.0, 0.0, 0.0)
    smallest = int(sizes.min())
    return RiskReport(
        rows=rows,
        k=k,
        quasi_identifiers=qis,
        classes=len(sizes),
        smallest_class=smallest,
        rows_below_k=float(sizes[sizes < k].sum() / rows),
        unique_rows=float(sizes[sizes == 1].sum() / rows),
        max_risk=1.0 / smallest,
        mean_risk=len(sizes) / rows,
        class_size_histogram=class_size_histogram(sizes, k),
    )


def class_size_histogram(sizes: np.ndarray, k: int) -> tuple[SizeBucket, ...]:
    """Classes and rows per size bucket: 1, 2, 3-4, 5-9, 10-19, 20-49, 50-99, ...

    Buckets grow 1-2-5 per decade, so a million-row table still gives a couple of dozen,
    and ``k`` always starts a bucket, so the buckets below it are exactly the classes
    that break k-anonymity. Buckets run from 1 to the largest class, empty ones included,
    so before and after line up on one axis.
    """
    if not len(sizes):
        return ()
    largest = int(sizes.max())
    edges = {1, 2, 3}
    decade = 5
    while decade <= largest:
        edges |= {decade, 2 * decade, 4 * decade}
        decade *= 10
    edges.add(k)
    starts = np.array(sorted(e for e in edges if e <= largest), dtype=np.int64)
    bucket = np.searchsorted(starts, sizes, side="right") - 1
    classes = np.bincount(bucket, minlength=len(starts))
    rows = np.bincount(bucket, weights=sizes, minlength=len(starts))
    ends = np.append(starts[1:] - 1, largest)
    return tuple(
        SizeBucket(int(lo), int(hi), int(n), int(r))
        for lo, hi, n, r in zip(starts, ends, classes, rows, strict=True)
    )


def _class_sizes(df: pd.DataFrame, qis: list[str]) -> np.ndarray:
    if not len(df):
        return np.zeros(0, dtype=np.int64)
    if not qis:
        return np.array([len(df)])
    return df.groupby(qis, dropna=False, observed=True, sort=False).size().to_numpy()


def _check_columns(df: pd.DataFrame, columns: list[str], role: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"unknown {role} column(s): {', '.join(map(str, missing))}")


@dataclass(frozen=True)
class ColumnUtility:
    """How much one column changed. ``mae``/``mre`` are for numeric columns, ``tvd`` for
    categorical ones; the other figures are ``None``."""

    column: str
    kind: str
    changed: float
    suppressed: float
    mae: float | None = None
    mre: float | None = None
    tvd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "changed": self.changed,
            "suppressed": self.suppressed,
            "mae": self.mae,
            "mre": self.mre,
            "tvd": self.tvd,
        }


@dataclass(frozen=True)
class UtilityReport:
    rows_before: int
    rows_after: int
    columns: tuple[ColumnUtility, ...]

    def __getitem__(self, column: str) -> ColumnUtility:
        for entry in self.columns:
            if entry.column == column:
                return entry
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "columns": [c.to_dict() for c in self.columns],
        }


def utility_report(before: pd.DataFrame, after: pd.DataFrame, columns: list[str]) -> UtilityReport:
    """Compare ``after`` with ``before`` row by row, aligned on the index.

    Rows of ``before`` missing from ``after`` count as suppressed (and changed); a column
    missing from ``after`` counts as wholly suppressed.
    """
    cols = list(columns)
    _check_columns(before, cols, "compared")
    if not isinstance(after, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(after).__name__}")
    if not (before.index.is_unique and after.index.is_unique):
        raise DataError("utility is measured on rows aligned by index; the index must be unique")
    kept = before.index.isin(after.index)
    report = tuple(_column_utility(c, before[c], after, kept) for c in cols)
    return UtilityReport(len(before), len(after), report)


def _column_utility(
    column: str, old: pd.Series, after: pd.DataFrame, kept: np.ndarray
) -> ColumnUtility:
    rows = len(old)
    if column not in after.columns:
        share = 1.0 if rows else 0.0
        return ColumnUtility(column, _kind(old, None), share, share)
    new = after[column].reindex(old.index)
    suppressed = float((~kept).mean()) if rows else 0.0
    kind = _kind(old, new)
    changed = _changed(old, new, kept)
    if kind == "numeric":
        mae, mre = _numeric_errors(old[kept], new[kept])
        return ColumnUtility(column, kind, changed, suppressed, mae=mae, mre=mre)
    return ColumnUtility(column, kind, changed, suppressed, tvd=_tvd(old, new[kept]))


def _kind(old: pd.Series, new: pd.Series | None) -> str:
    numeric = pd.api.types.is_numeric_dtype(old.dtype) and not pd.api.types.is_bool_dtype(old)
    if new is not None:
        numeric = numeric and pd.api.types.is_numeric_dtype(new.dtype)
        numeric = numeric and not pd.api.types.is_bool_dtype(new.dtype)
    return "numeric" if numeric else "categorical"


def _changed(old: pd.Series, new: pd.Series, kept: np.ndarray) -> float:
    if not len(old):
        return 0.0
    # Nulls become one shared sentinel, so null == null and pd.NA never reaches ==.
    a = old.astype(object).where(old.notna(), _NULL)
    b = new.astype(object).where(new.notna(), _NULL)
    unchanged = kept & (a == b).to_numpy(dtype=bool)
    return float(1 - unchanged.mean())


def _numeric_errors(old: pd.Series, new: pd.Series) -> tuple[float | None, float | None]:
    a = old.to_numpy(dtype=np.float64, na_value=np.nan)
    b = new.to_numpy(dtype=np.float64, na_value=np.nan)
    valid = np.isfinite(a) & np.isfinite(b)
    if not valid.any():
        return None, None
    error = np.abs(a[valid] - b[valid])
    nonzero = a[valid] != 0
    mre = float(np.mean(error[nonzero] / np.abs(a[valid][nonzero]))) if nonzero.any() else None
    return float(error.mean()), mre


def _tvd(old: pd.Series, new: pd.Series) -> float | None:
    """Total variation distance between the category shares of non-null values."""
    p = old.dropna().astype(str).value_counts(normalize=True)
    q = new.dropna().astype(str).value_counts(normalize=True)
    if p.empty or q.empty:
        return None if p.empty and q.empty else 1.0
    p, q = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(p - q).sum())
