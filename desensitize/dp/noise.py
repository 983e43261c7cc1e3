"""The noise of aggregate answers: diffprivlib's mechanisms where it has them, OpenDP's
partition selection where it does not. No new sampler is written here.

* Counts: diffprivlib's two-sided ``Geometric`` (the discrete Laplace), unbounded: a
  truncation bound taken from the data would leak it, so answers may fall below zero or
  above the table's size.
* Sums: diffprivlib's ``Laplace``.
* Group keys without a public domain: OpenDP's ``make_laplace_threshold``, which adds
  discrete Laplace noise to every present group's count and releases only those above a
  threshold; its privacy map, not a formula copied here, says what the release costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# _diffprivlib_note: diffprivlib is imported where a query draws noise, not with the
# package: it brings scikit-learn and SciPy (about 100 MB resident), which desensitizing
# a table never needs.

__all__ = ["expected_threshold", "geometric", "laplace", "threshold_counts", "threshold_for"]


def geometric(value: int, *, epsilon: float, sensitivity: int, state: Any) -> int:
    """``value`` plus two-sided geometric noise: pure ``epsilon``-DP for ``sensitivity``."""
    from diffprivlib.mechanisms import Geometric  # see _diffprivlib_note

    mechanism = Geometric(epsilon=epsilon, sensitivity=sensitivity, random_state=state)
    return int(mechanism.randomise(int(value)))


def laplace(value: float, *, epsilon: float, sensitivity: float, state: Any) -> float:
    """``value`` plus Laplace noise of scale ``sensitivity / epsilon``."""
    from diffprivlib.mechanisms import Laplace  # see _diffprivlib_note

    mechanism = Laplace(epsilon=epsilon, delta=0.0, sensitivity=sensitivity, random_state=state)
    return float(mechanism.randomise(float(value)))


def _opendp() -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@lru_cache(maxsize=256)
def _threshold_measurement(scale: float, threshold: int) -> Any:
    dp = _opendp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int))
    metric = dp.l01inf_distance(dp.absolute_distance(T=int))
    return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)


@lru_cache(maxsize=256)
def threshold_for(epsilon: float, delta: float, groups: int, rows: int) -> tuple[float, int]:
    """The noise scale and the smallest threshold with which a person touching ``groups``
    groups with at most ``rows`` rows (in all and per group) costs at most ``(epsilon,
    delta)``, as OpenDP's privacy map of ``make_laplace_threshold`` states it."""
    d_in = (groups, rows, rows)
    scale = rows / epsilon
    while _threshold_measurement(scale, rows).map(d_in)[0] > epsilon:  # float rounding
        scale = math.nextafter(scale, math.inf)

    def cost(threshold: int) -> tuple[float, float]:
        return _threshold_measurement(scale, threshold).map(d_in)

    low, high = rows, rows + 1
    while cost(high)[1] > delta:
        low, high = high, rows + 2 * (high - rows)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if cost(middle)[1] <= delta else (middle, high)
    spent_epsilon, spent_delta = cost(high)
    if spent_epsilon > epsilon or spent_delta > delta:
        raise ArithmeticError("partition selection does not fit the requested budget")
    return scale, high


def threshold_counts(
    counts: Mapping[str, int], *, epsilon: float, delta: float, groups: int, rows: int
) -> dict[str, int]:
    """Noisy counts of the groups whose noisy count clears the threshold; the others, and
    so whether a rare group exists, stay hidden (up to probability ``delta``)."""
    scale, threshold = threshold_for(epsilon, delta, groups, rows)
    released = _threshold_measurement(scale, threshold)({k: int(v) for k, v in counts.items()})
    return {str(k): int(v) for k, v in released.items()}


def expected_threshold(epsilon: float, delta: float, groups: int, rows: int) -> float:
    """The textbook ``rows + rows * ln(groups / (2 delta)) / epsilon``, for documentation and
    tests: OpenDP's own threshold is never far from it."""
    return rows + rows * math.log(groups / (2 * delta)) / epsilon
