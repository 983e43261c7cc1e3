"""Aggregate queries as data: validated when built, checked against a table before running."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from fractions import Fraction
from numbers import Real
from typing import Any, cast

import pandas as pd

from desensitize.dp.accounting import (
    DEFAULT_DELTA,
    MAX_DELTA,
    MAX_QUERY_EPSILON,
    MIN_QUERY_EPSILON,
    exact,
)
from desensitize.errors import DesensitizeError

__all__ = ["OPS", "Query", "QueryError"]

# The fields each op needs, and those it may take.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "count": (),
    "sum": ("column", "bounds"),
    "mean": ("column", "bounds"),
    "histogram": ("column", "bins", "range"),
    "group_count": ("by",),
    "group_sum": ("by", "column", "bounds"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "count": ("column",),
    "group_count": ("groups", "max_groups", "delta"),
    "group_sum": ("groups", "max_groups", "delta"),
}
OPS = tuple(_REQUIRED)
_NUMERIC_OPS = ("sum", "mean", "histogram", "group_sum")


class QueryError(DesensitizeError, ValueError):
    """A query is malformed or does not fit the table; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"query field {field!r}: {problem}")


@dataclass(frozen=True)
class Query:
    """One DP aggregate. ``epsilon`` is what running it costs, between the minimum and the
    maximum per query.

    ``groups`` is the public domain of group keys for group ops; without it the keys come
    from DP partition selection, which costs ``delta`` too (a rare group shows up with
    probability about ``delta``). ``max_groups`` bounds how many groups one person's rows
    may fall in (default 1).
    """

    op: str
    epsilon: float
    column: str | None = None
    by: str | None = None
    bounds: tuple[float, float] | None = None
    bins: int | None = None
    range: tuple[float, float] | None = None
    groups: tuple[Any, ...] | None = None
    max_groups: int | None = None
    delta: float | None = None

    def __post_init__(self) -> None:
        if self.op not in _REQUIRED:
            raise QueryError("op", f"unknown op {self.op!r}; expected one of {', '.join(OPS)}")
        allowed = {"op", "epsilon", *_REQUIRED[self.op], *_OPTIONAL.get(self.op, ())}
        for name in _REQUIRED[self.op]:
            if getattr(self, name) is None:
                raise QueryError(name, f"is required for op {self.op!r}")
        for f in fields(self):
            if f.name not in allowed and getattr(self, f.name) is not None:
                raise QueryError(f.name, f"is not used by op {self.op!r}")
        object.__setattr__(self, "epsilon", _epsilon(self.epsilon))
        for name in ("column", "by"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise QueryError(name, "must be a column name")
        for name in ("bounds", "range"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _interval(name, getattr(self, name)))
        for name in ("bins", "max_groups"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise QueryError(name, f"must be a positive integer, got {value!r}")
        if self.delta is not None:
            object.__setattr__(self, "delta", _delta(self.delta))
        if self.groups is not None:
            if isinstance(self.groups, str | bytes) or not hasattr(self.groups, "__iter__"):
                raise QueryError("groups", "must be a list of group keys")
            object.__setattr__(self, "groups", tuple(self.groups))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Query:
        if not isinstance(d, dict):
            raise QueryError("query", f"must be a JSON object, got {type(d).__name__}")
        for name in ("op", "epsilon"):
            if name not in d:
                raise QueryError(name, "is required")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise QueryError(unknown[0], "is not a query field")
        return cls(**d)

    @property
    def grouped(self) -> bool:
        return self.by is not None

    @property
    def cost(self) -> tuple[Fraction, Fraction]:
        """The exact ``(epsilon, delta)`` the query spends: delta only when group keys come
        from partition selection (no public domain)."""
        if not self.grouped or self.groups is not None:
            return exact(self.epsilon), Fraction(0)
        return exact(self.epsilon), exact(self.delta) if self.delta is not None else DEFAULT_DELTA

    @property
    def columns(self) -> list[str]:
        """The table columns the query reads: ``by`` first, then ``column``."""
        return [c for c in (self.by, self.column) if c is not None]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def check_table(self, df: pd.DataFrame) -> None:
        """Raise :class:`QueryError` if ``df`` lacks a column or a column is not numeric."""
        for name in ("by", "column"):
            column = getattr(self, name)
            if column is not None and column not in df.columns:
                raise QueryError(name, f"unknown column {column!r}")
        if self.op in _NUMERIC_OPS:
            dtype = df[self.column].dtype
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                raise QueryError(
                    "column", f"op {self.op!r} needs a numeric column; {self.column!r} is {dtype}"
                )


def _epsilon(value: object) -> float:
    """A query's epsilon within the limits per query: a smaller one would be charged
    almost nothing, a larger one is no longer a meaningful protection."""
    epsilon = _positive("epsilon", value)
    if exact(epsilon) < MIN_QUERY_EPSILON:
        raise QueryError(
            "epsilon", f"{epsilon:g} is below the minimum per query, {float(MIN_QUERY_EPSILON):g}"
        )
    if exact(epsilon) > MAX_QUERY_EPSILON:
        raise QueryError(
            "epsilon", f"{epsilon:g} is above the maximum per query, {float(MAX_QUERY_EPSILON):g}"
        )
    return epsilon


def _delta(value: object) -> float:
    delta = _positive("delta", value)
    if exact(delta) > MAX_DELTA:
        raise QueryError("delta", f"{delta:g} is above the maximum per query, {float(MAX_DELTA):g}")
    return delta


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise QueryError(name, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise QueryError(name, f"must be a finite number greater than 0, got {value}")
    return float(value)


def _interval(name: str, value: object) -> tuple[float, float]:
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise QueryError(name, "must be a pair [low, high]")
    low, high = cast("tuple[Any, Any]", value)  # a length-2 sequence, checked above
    for end in (low, high):
        if isinstance(end, bool) or not isinstance(end, Real) or not math.isfinite(end):
            raise QueryError(name, "must hold two finite numbers")
    if low >= high:
        raise QueryError(name, f"low ({low}) must be below high ({high})")
    return float(low), float(high)
