"""Exact privacy accounting: epsilon as an exact fraction, charged in whole micro units
rounded up, never down, and the record every DP answer carries.

A float such as ``0.1`` is read as the decimal it was written as (``1/10``), so ten
queries at 0.1 fill an allowance of 1.0 exactly. The noise is calibrated to the largest
float not above the charged value, so a mechanism never spends more than it is charged.
A minimum epsilon per query bounds how many queries an allowance can pay for: with 0.001,
an allowance of 1.0 answers at most 1,000 queries, whatever their size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "DEFAULT_DELTA",
    "MAX_DELTA",
    "MAX_QUERY_EPSILON",
    "MICRO",
    "MIN_QUERY_EPSILON",
    "AccountingRecord",
    "exact",
    "float_at_most",
    "micro_units",
]

MICRO = 1_000_000  # the exchange stores epsilon as an integer count of 1e-6
MIN_QUERY_EPSILON = Fraction(1, 1000)
MAX_QUERY_EPSILON = Fraction(10)
# Partition selection without a public domain may fail with this probability per query.
DEFAULT_DELTA = Fraction(1, 10**7)
MAX_DELTA = Fraction(1, 10**6)


def exact(value: float | Fraction | str) -> Fraction:
    """The exact decimal a number was written as: ``exact(0.1) == Fraction(1, 10)``."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a privacy parameter must be a number, not a bool")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a privacy parameter must be finite, got {value}")
        return Fraction(repr(value))
    return Fraction(value)  # type: ignore[arg-type]


def micro_units(value: float | Fraction | str) -> int:
    """``value`` in whole millionths, rounded up: a charge is never smaller than the spend."""
    return math.ceil(exact(value) * MICRO)


def float_at_most(value: Fraction) -> float:
    """The largest float not above ``value``: noise calibrated to it spends at most ``value``."""
    out = float(value)
    if Fraction(out) > value:
        out = math.nextafter(out, -math.inf)
    return out


@dataclass(frozen=True)
class AccountingRecord:
    """What one answer cost and why: the mechanism, its exact epsilon and delta, the
    sensitivity it was calibrated to and the contribution bound that made it hold."""

    op: str
    columns: tuple[str, ...]
    mechanism: str
    epsilon: Fraction
    delta: Fraction
    sensitivity: float
    unit: str
    max_rows: int
    max_groups: int | None = None
    domain: str | None = None  # "public" or "partition selection" for group ops

    @property
    def epsilon_micro(self) -> int:
        return micro_units(self.epsilon)

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "columns": list(self.columns)}
        out["epsilon"] = float(self.epsilon)
        out["delta"] = float(self.delta)
        out["epsilon_exact"] = str(self.epsilon)
        out["delta_exact"] = str(self.delta)
        out["epsilon_micro"] = self.epsilon_micro
        return {k: v for k, v in out.items() if v is not None}
