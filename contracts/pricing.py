"""Deterministic, explainable price quotes in integer fen.

total = base price per 1,000 rows and column
      × billable thousand rows (volume tiers, marginal like tax brackets)
      × column weights (quasi-identifiers, identifiers, sensitive columns cost more)
      × grade × period (days / period unit) × privacy budget × exclusivity,
rounded half up once at the end and never below the minimum price. Every factor
is an exact fraction of ints (decimals such as epsilon arrive as strings), so no
float ever touches money and the same inputs always give the same quote and id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from contracts.canonical import canonical_json
from contracts.errors import NotLeasable, QuoteError
from contracts.licence import Grade
from contracts.utc import format_utc, require_utc

BP = 10_000
_DECIMAL = re.compile(r"\d{1,6}(\.\d{1,6})?")


class ColumnKind(StrEnum):
    """How a delivered column is priced, following its classification."""

    PLAIN = "plain"
    QUASI_IDENTIFIER = "quasi_identifier"
    IDENTIFIER = "identifier"  # delivered as keyed pseudonym tokens
    SENSITIVE = "sensitive"


@dataclass(frozen=True)
class VolumeTier:
    """Rows up to ``up_to_rows`` (None: no limit) are billed at ``rate_bp`` of the base."""

    up_to_rows: int | None
    rate_bp: int


@dataclass(frozen=True)
class PriceList:
    """A provider's price list for an offer."""

    base_minor_per_1000_rows: int
    minimum_minor: int
    currency: str = "CNY"
    volume_tiers: tuple[VolumeTier, ...] = (
        VolumeTier(100_000, 10_000),
        VolumeTier(1_000_000, 6_000),
        VolumeTier(None, 3_000),
    )
    column_weight_bp: Mapping[ColumnKind, int] = field(
        default_factory=lambda: {
            ColumnKind.PLAIN: 10_000,
            ColumnKind.QUASI_IDENTIFIER: 15_000,
            ColumnKind.IDENTIFIER: 20_000,
            ColumnKind.SENSITIVE: 25_000,
        }
    )
    grade_bp: Mapping[Grade, int] = field(
        default_factory=lambda: {Grade.GENERAL: 10_000, Grade.IMPORTANT: 15_000}
    )
    period_unit_days: int = 30
    epsilon_bp_per_unit: int = 10_000  # each 1.0 of epsilon adds this much
    exact_release_bp: int = 40_000  # no differential-privacy noise at all
    exclusive_bp: int = 30_000
    validity: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        for name in ("base_minor_per_1000_rows", "period_unit_days"):
            _check_int(getattr(self, name), name, minimum=1)
        for name in ("minimum_minor", "epsilon_bp_per_unit", "exact_release_bp", "exclusive_bp"):
            _check_int(getattr(self, name), name, minimum=0)
        tiers = tuple(self.volume_tiers)
        if not tiers or tiers[-1].up_to_rows is not None:
            raise QuoteError("the last volume tier must have up_to_rows=None (no limit)")
        limits = [t.up_to_rows for t in tiers[:-1]]
        if any(b is None or a is None or b <= a for a, b in zip(limits, limits[1:], strict=False)):
            raise QuoteError(f"volume tier limits must increase; got {limits}")
        object.__setattr__(self, "volume_tiers", tiers)
        weights = {ColumnKind(k): v for k, v in self.column_weight_bp.items()}
        grades = {Grade(k): v for k, v in self.grade_bp.items()}
        object.__setattr__(self, "column_weight_bp", MappingProxyType(weights))
        object.__setattr__(self, "grade_bp", MappingProxyType(grades))

    def to_json(self) -> dict[str, Any]:
        return {
            "base_minor_per_1000_rows": self.base_minor_per_1000_rows,
            "minimum_minor": self.minimum_minor,
            "currency": self.currency,
            "volume_tiers": [[t.up_to_rows, t.rate_bp] for t in self.volume_tiers],
            "column_weight_bp": {str(k): v for k, v in self.column_weight_bp.items()},
            "grade_bp": {str(k): v for k, v in self.grade_bp.items()},
            "period_unit_days": self.period_unit_days,
            "epsilon_bp_per_unit": self.epsilon_bp_per_unit,
            "exact_release_bp": self.exact_release_bp,
            "exclusive_bp": self.exclusive_bp,
            "validity_seconds": int(self.validity.total_seconds()),
        }


@dataclass(frozen=True)
class QuoteRequest:
    """What is priced: rows, the columns delivered, grade, period, epsilon, exclusivity."""

    rows: int
    columns: Mapping[str, ColumnKind]
    grade: Grade
    start: datetime
    end: datetime
    epsilon: str | None = None  # a decimal string such as "0.5"; None: no DP noise
    exclusive: bool = False

    def __post_init__(self) -> None:
        _check_int(self.rows, "rows", minimum=1)
        if not self.columns:
            raise QuoteError("a quote needs at least one column")
        columns = {str(name): ColumnKind(kind) for name, kind in sorted(self.columns.items())}
        object.__setattr__(self, "columns", MappingProxyType(columns))
        object.__setattr__(self, "grade", Grade(self.grade))
        object.__setattr__(self, "start", require_utc(self.start, "quote start"))
        object.__setattr__(self, "end", require_utc(self.end, "quote end"))
        if self.end <= self.start:
            raise QuoteError("the lease period must end after it starts")
        if self.epsilon is not None and (
            not isinstance(self.epsilon, str) or not _DECIMAL.fullmatch(self.epsilon)
        ):
            raise QuoteError(
                f"epsilon must be a decimal string such as '0.5' (never a float); "
                f"got {self.epsilon!r}"
            )
        if self.epsilon is not None and Fraction(self.epsilon) <= 0:
            raise QuoteError(f"epsilon must be positive; got {self.epsilon}")

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "columns": {name: str(kind) for name, kind in self.columns.items()},
            "grade": str(self.grade),
            "start": format_utc(self.start),
            "end": format_utc(self.end),
            "epsilon": self.epsilon,
            "exclusive": self.exclusive,
        }


@dataclass(frozen=True)
class Factor:
    """One multiplier of a quote: ``numerator / denominator``, and why."""

    name: str
    numerator: int
    denominator: int
    explanation: str

    @property
    def value(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)


@dataclass(frozen=True)
class Quote:
    """A priced request: every factor, the exact total in minor units, an id and expiry."""

    id: str
    currency: str
    factors: tuple[Factor, ...]
    subtotal_minor: int
    minimum_minor: int
    total_minor: int
    issued_at: datetime
    expires_at: datetime

    @property
    def minimum_applied(self) -> bool:
        return self.total_minor > self.subtotal_minor

    def is_valid(self, now: datetime) -> bool:
        return require_utc(now, "now") < self.expires_at

    def check_valid(self, now: datetime) -> None:
        """Raise QuoteError once the quote has expired."""
        if not self.is_valid(now):
            raise QuoteError(f"quote {self.id} expired at {format_utc(self.expires_at)}")

    def explain(self) -> str:
        """The breakdown as lines of text, one per factor, then the total."""
        lines = [
            f"{f.name}: x {f.numerator}/{f.denominator} ({f.explanation})" for f in self.factors
        ]
        lines.append(
            f"subtotal: {self.subtotal_minor} {self.currency} minor units (rounded half up)"
        )
        if self.minimum_applied:
            lines.append(f"minimum price applies: {self.minimum_minor}")
        lines.append(f"total: {self.total_minor} {self.currency} minor units")
        return "\n".join(lines)


def quote(price_list: PriceList, request: QuoteRequest, *, now: datetime) -> Quote:
    """Price ``request``; the same price list, request and ``now`` give the same quote."""
    if request.grade is Grade.CORE:
        raise NotLeasable("core data is never leasable, so it has no price", grade="core")
    if request.grade not in price_list.grade_bp:
        raise QuoteError(f"the price list has no multiplier for {request.grade} data")
    factors = (
        Factor(
            "base",
            price_list.base_minor_per_1000_rows,
            1,
            f"{price_list.base_minor_per_1000_rows} minor units per 1,000 rows per plain column",
        ),
        _rows_factor(price_list, request.rows),
        _columns_factor(price_list, request.columns),
        _factor("grade", price_list.grade_bp[request.grade], BP, f"{request.grade} data"),
        _period_factor(price_list, request.start, request.end),
        _privacy_factor(price_list, request.epsilon),
        _factor(
            "exclusivity",
            price_list.exclusive_bp if request.exclusive else BP,
            BP,
            "exclusive lease" if request.exclusive else "non-exclusive lease",
        ),
    )
    product = Fraction(1)
    for factor in factors:
        product *= factor.value
    subtotal = _round_half_up(product)
    issued_at = require_utc(now, "now")
    inputs = {
        "price_list": price_list.to_json(),
        "request": request.to_json(),
        "issued_at": format_utc(issued_at),
    }
    return Quote(
        id="q-" + hashlib.sha256(canonical_json(inputs)).hexdigest()[:32],
        currency=price_list.currency,
        factors=factors,
        subtotal_minor=subtotal,
        minimum_minor=price_list.minimum_minor,
        total_minor=max(subtotal, price_list.minimum_minor),
        issued_at=issued_at,
        expires_at=issued_at + price_list.validity,
    )


def _factor(name: str, numerator: int, denominator: int, explanation: str) -> Factor:
    value = Fraction(numerator, denominator)
    return Factor(name, value.numerator, value.denominator, explanation)


def _rows_factor(price_list: PriceList, rows: int) -> Factor:
    billable, lower, parts = Fraction(0), 0, []
    for tier in price_list.volume_tiers:
        upper = rows if tier.up_to_rows is None else min(rows, tier.up_to_rows)
        in_tier = max(0, upper - lower)
        if in_tier:
            billable += Fraction(in_tier * tier.rate_bp, BP * 1000)
            parts.append(f"{in_tier:,} rows at {_percent(tier.rate_bp)}")
        lower = max(lower, upper)
    explanation = f"{', '.join(parts)} = {_decimal(billable)} billable thousand rows"
    return _factor("rows", billable.numerator, billable.denominator, explanation)


def _columns_factor(price_list: PriceList, columns: Mapping[str, ColumnKind]) -> Factor:
    counts: dict[ColumnKind, int] = {}
    for kind in columns.values():
        counts[kind] = counts.get(kind, 0) + 1
    missing = set(counts) - set(price_list.column_weight_bp)
    if missing:
        raise QuoteError(f"the price list has no weight for {sorted(map(str, missing))} columns")
    total_bp = sum(price_list.column_weight_bp[kind] * n for kind, n in counts.items())
    parts = [
        f"{n} {kind} x {_decimal(Fraction(price_list.column_weight_bp[kind], BP))}"
        for kind, n in sorted(counts.items())
    ]
    return _factor("columns", total_bp, BP, ", ".join(parts))


def _period_factor(price_list: PriceList, start: datetime, end: datetime) -> Factor:
    days = -(-(end - start) // timedelta(days=1))
    unit = price_list.period_unit_days
    return _factor("period", days, unit, f"{days} days, priced per {unit} days")


def _privacy_factor(price_list: PriceList, epsilon: str | None) -> Factor:
    if epsilon is None:
        return _factor(
            "privacy",
            price_list.exact_release_bp,
            BP,
            "no differential-privacy noise (exact values)",
        )
    extra = Fraction(epsilon) * price_list.epsilon_bp_per_unit
    value = (BP + extra) / BP
    explanation = (
        f"epsilon {epsilon}: larger epsilon, more accuracy "
        f"(+{_percent(price_list.epsilon_bp_per_unit)} per 1.0)"
    )
    return _factor("privacy", value.numerator, value.denominator, explanation)


def _round_half_up(value: Fraction) -> int:
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _percent(bp: int) -> str:
    return f"{_decimal(Fraction(bp, 100))}%"


def _decimal(value: Fraction) -> str:
    """A fraction as an exact decimal when it has one (up to 6 places), else n/d."""
    for places in range(7):
        scaled = value * 10**places
        if scaled.denominator == 1:
            whole, frac = divmod(scaled.numerator, 10**places)
            return f"{whole}.{frac:0{places}d}" if places else str(whole)
    return f"{value.numerator}/{value.denominator}"


def _check_int(value: Any, name: str, *, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise QuoteError(f"{name} must be an int >= {minimum}; got {value!r}")
