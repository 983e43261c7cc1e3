"""Kinds of numeric columns: coordinates, ages, money-like amounts, measurements, codes."""

from __future__ import annotations

import math

import numpy as np

from desensitize.detect.base import name_has_hint

__all__ = ["NumericFacts", "numeric_kind"]

LATITUDE_HINTS = ("lat", "纬度")
LONGITUDE_HINTS = ("lon", "lng", "经度")
AGE_HINTS = ("age", "年龄")
MONEY_HINTS = (
    "income",
    "salary",
    "wage",
    "cost",
    "fare",
    "price",
    "amount",
    "fee",
    "pay",
    "balance",
    "revenue",
    "spend",
    "fen",
    "yuan",
    "rmb",
    "收入",
    "工资",
    "费",
    "金额",
    "价",
    "余额",
)
MEASURE_HINTS = ("speed", "kmh", "temp", "distance", "duration", "height", "weight", "size")
ID_HINTS = ("id", "no", "code", "编号", "号码")
SMALL_CATEGORY = 50


class NumericFacts:
    """Summary figures of the finite values of one numeric column."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values[np.isfinite(values)]
        self.count = len(self.values)
        self.distinct = len(np.unique(self.values))
        self.integral = bool(np.all(self.values == np.floor(self.values)))
        self.cents = bool(np.all(np.abs(self.values * 100 - np.round(self.values * 100)) < 1e-6))

    def share_within(self, low: float, high: float) -> float:
        if not self.count:
            return 0.0
        return float(np.mean((self.values >= low) & (self.values <= high)))

    @property
    def small_category(self) -> bool:
        return self.distinct <= SMALL_CATEGORY and self.distinct <= 0.5 * self.count


def numeric_kind(column: str, facts: NumericFacts) -> tuple[str, float, bool]:
    """``(kind, share, hint_used)`` of a numeric column; names only choose between readings."""
    if not facts.count:
        return "empty", 0.0, False
    coordinate = _coordinate(column, facts)
    if coordinate:
        return coordinate
    money = name_has_hint(column, MONEY_HINTS)
    if facts.integral and name_has_hint(column, AGE_HINTS) and facts.share_within(0, 130) == 1:
        return "age", 1.0, True
    if facts.small_category and not money:
        return "category", 1.0, False
    unique = facts.distinct >= 0.95 * facts.count
    if facts.integral and unique and not money and name_has_hint(column, ID_HINTS):
        return "record_id", 1.0, True
    if facts.cents and facts.share_within(0, math.inf) == 1:
        if not money and name_has_hint(column, MEASURE_HINTS):
            return "measurement", 1.0, True
        return "amount", 1.0, money
    return "number", 1.0, False


def _coordinate(column: str, facts: NumericFacts) -> tuple[str, float, bool] | None:
    if facts.integral:
        return None
    if name_has_hint(column, LATITUDE_HINTS):
        share = facts.share_within(-90, 90)
        return ("latitude", share, True) if share >= 0.99 else None
    if name_has_hint(column, LONGITUDE_HINTS):
        share = facts.share_within(-180, 180)
        return ("longitude", share, True) if share >= 0.99 else None
    return None
