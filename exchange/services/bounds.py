"""Limits on numeric and date inputs: the request schemas state them (so the OpenAPI schema
does), and the services check what a schema cannot, such as a total that must fit the
database's signed 64-bit integers."""

from __future__ import annotations

from datetime import datetime, timedelta

from desensitize.policy import MAX_K

__all__ = [
    "MAX_BASIS_POINTS",
    "MAX_K",
    "MAX_LEASE_DAYS",
    "MAX_LEASE_EPSILON",
    "MAX_PRICE_MINOR",
    "MAX_START_AHEAD",
    "MAX_STORED_INT",
    "check_starts_at",
    "starts_at_problem",
]

MAX_PRICE_MINOR = 10**12  # fen: ten billion yuan, per 1,000 rows or as a minimum
MAX_STORED_INT = 2**63 - 1  # BigInteger columns are signed 64-bit
MAX_BASIS_POINTS = 10_000
MAX_LEASE_DAYS = 3660
MAX_LEASE_EPSILON = 100.0  # epsilon a lease may ask for its DP queries
MAX_START_AHEAD = timedelta(days=366)
START_GRACE = timedelta(minutes=5)


def starts_at_problem(starts_at: datetime, now: datetime) -> str | None:
    """Why a lease may not start at ``starts_at``, or None when it may."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        return "starts_at must carry a timezone (UTC)"
    if starts_at < now - START_GRACE:
        return "starts_at must not be in the past"
    if starts_at > now + MAX_START_AHEAD:
        return f"starts_at must be at most {MAX_START_AHEAD.days} days ahead"
    return None


def check_starts_at(starts_at: datetime, now: datetime) -> None:
    """For a schema validator: a ValueError naming the limit."""
    problem = starts_at_problem(starts_at, now)
    if problem:
        raise ValueError(problem)
