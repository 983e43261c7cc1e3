"""The privacy budget of one dataset: a cap, what is spent, and refusals that say what is left.

Semantics follow diffprivlib's ``BudgetAccountant``: a spend is checked against the cap
first and only then appended; the spends are exposed as read-only copies. Releases here
are pure ``epsilon``-DP and compose by summation; sums use ``math.fsum`` so that 0.1 + 0.2
+ 0.7 fits a cap of 1.0. The exchange persists ``spent`` and enforces the cap in its own
transaction; this object guards the spends made through it, also across threads.
"""

from __future__ import annotations

import math
import threading
from numbers import Real

from desensitize.errors import BudgetExceeded

__all__ = ["Budget"]

# Relative slack for rounding in a persisted ``spent`` (a float that went through a database).
_SLACK = 1e-12


def _check_epsilon(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return float(value)


class Budget:
    """An epsilon cap and the spends charged against it."""

    def __init__(self, cap: float, spent: float = 0.0) -> None:
        self._cap = _check_epsilon("cap", cap, allow_zero=False)
        initial = _check_epsilon("spent", spent, allow_zero=True)
        if initial > self._cap * (1 + _SLACK):
            raise ValueError(f"spent ({initial:g}) already exceeds the cap ({self._cap:g})")
        self._initial = initial
        self._spends: list[float] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Budget(cap={self._cap!r}, spent={self.spent!r})"

    @property
    def cap(self) -> float:
        return self._cap

    @property
    def spent(self) -> float:
        return math.fsum([self._initial, *self._spends])

    @property
    def remaining(self) -> float:
        return max(self._cap - self.spent, 0.0)

    @property
    def spends(self) -> tuple[float, ...]:
        """The spends charged through this object (a copy; the initial ``spent`` is not one)."""
        return tuple(self._spends)

    def check(self, epsilon: float) -> bool:
        """True if ``epsilon`` fits; otherwise :class:`BudgetExceeded` with what is left."""
        epsilon = _check_epsilon("epsilon", epsilon, allow_zero=False)
        if math.fsum([self._initial, *self._spends, epsilon]) > self._cap * (1 + _SLACK):
            raise BudgetExceeded(requested=epsilon, remaining=self.remaining)
        return True

    def spend(self, epsilon: float) -> tuple[float, float]:
        """Check, then charge ``epsilon``; returns ``(spent_before, spent_after)``."""
        with self._lock:
            before = self.spent
            self.check(epsilon)
            self._spends.append(float(epsilon))
            return before, self.spent

    def to_dict(self) -> dict[str, float]:
        return {"cap": self._cap, "spent": self.spent, "remaining": self.remaining}
