"""The privacy budget of one dataset: a cap, what is spent, and refusals that say what is left.

Semantics follow diffprivlib's ``BudgetAccountant``: a spend is checked against the cap
first and only then appended; the spends are exposed as read-only copies. Releases here
compose by summation, kept exactly: each epsilon is the decimal it was written as (a
``Fraction``), so 0.1 + 0.2 + 0.7 fits a cap of 1.0 and nothing is ever rounded down.
The exchange persists ``spent`` and enforces the cap in its own transaction; this object
guards the spends made through it, also across threads.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from numbers import Real

from desensitize.dp.accounting import exact
from desensitize.errors import BudgetExceeded

__all__ = ["Budget"]


def _check_epsilon(name: str, value: object, *, allow_zero: bool) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Real | Fraction):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return exact(value)  # type: ignore[arg-type]


class Budget:
    """An epsilon cap and the spends charged against it."""

    def __init__(self, cap: float, spent: float = 0.0) -> None:
        self._cap = _check_epsilon("cap", cap, allow_zero=False)
        initial = _check_epsilon("spent", spent, allow_zero=True)
        if initial > self._cap:
            raise ValueError(
                f"spent ({float(initial):g}) already exceeds the cap ({float(self._cap):g})"
            )
        self._initial = initial
        self._spends: list[Fraction] = []
        self._total = initial  # kept as a running sum: checks stay O(1)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Budget(cap={self.cap!r}, spent={self.spent!r})"

    @property
    def cap(self) -> float:
        return float(self._cap)

    @property
    def spent_exact(self) -> Fraction:
        return self._total

    @property
    def spent(self) -> float:
        return float(self.spent_exact)

    @property
    def remaining(self) -> float:
        return float(max(self._cap - self.spent_exact, Fraction(0)))

    @property
    def spends(self) -> tuple[float, ...]:
        """The spends charged through this object (a copy; the initial ``spent`` is not one)."""
        return tuple(float(s) for s in self._spends)

    def check(self, epsilon: float) -> bool:
        """True if ``epsilon`` fits; otherwise :class:`BudgetExceeded` with what is left."""
        exact_epsilon = _check_epsilon("epsilon", epsilon, allow_zero=False)
        if self.spent_exact + exact_epsilon > self._cap:
            raise BudgetExceeded(requested=float(exact_epsilon), remaining=self.remaining)
        return True

    def spend(self, epsilon: float) -> tuple[float, float]:
        """Check, then charge ``epsilon``; returns ``(spent_before, spent_after)``."""
        with self._lock:
            before = self.spent
            self.check(epsilon)
            self._spends.append(_check_epsilon("epsilon", epsilon, allow_zero=False))
            self._total += self._spends[-1]
            return before, self.spent

    def to_dict(self) -> dict[str, float]:
        return {"cap": self.cap, "spent": self.spent, "remaining": self.remaining}
