"""The exception tree of the desensitize package.

Every error raised on purpose by this package derives from :class:`DesensitizeError`,
so callers (the exchange, a CLI) can catch one root and turn it into a clear 4xx.
Messages name the column and the problem, never a raw cell value.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "DataError",
    "DesensitizeError",
    "KAnonymityError",
    "PolicyError",
]


class DesensitizeError(Exception):
    """Root of all errors raised by the desensitize package."""


class PolicyError(DesensitizeError):
    """A policy is malformed or does not fit the data it is applied to."""

    def __init__(self, column: str | None, problem: str) -> None:
        self.column = column
        self.problem = problem
        message = problem if column is None else f"column {column!r}: {problem}"
        super().__init__(message)


class BudgetExceeded(DesensitizeError):
    """A differential-privacy spend would exceed the remaining budget."""

    def __init__(self, requested: float, remaining: float) -> None:
        self.requested = requested
        self.remaining = remaining
        super().__init__(
            f"privacy budget exceeded: requested epsilon={requested:g} but only "
            f"{remaining:g} remains; request at most {remaining:g} or raise the cap"
        )


class KAnonymityError(DesensitizeError):
    """k-anonymity or l-diversity cannot be reached, or was not met by an output."""


class DataError(DesensitizeError):
    """The input data is unusable (unreadable file, wrong types, bad encoding)."""
