"""Differentially private bounds for a profile's suggestions, on public grids of nice values.

A clamp bound taken from the data's own quantiles is a released statistic: it shows up
in the noise rule's output as the clamp value and tells a buyer what the top incomes
are. Here a bound is the first value of a public, data-independent grid (1-2-5 x 10^n,
or nice integers) that about ``threshold`` values exceed, found with the sparse vector
technique (AboveThreshold, Dwork and Roth 2014, alg. 1). Scanning upwards stops at the
smallest qualifying grid value, so, unlike an exponential mechanism over the grid, it
does not drift into the many empty grid values above the data when epsilon is small.

Each value must belong to a different person (the caller keeps one row per person), so
one person changes every count by at most one and ``epsilon`` covers the whole estimate.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NICE_INTEGERS", "dp_lower_bound", "dp_upper_bound", "nice_grid", "nice_integers"]

# Share of epsilon spent on a noisy count of the values, which sets the threshold.
COUNT_SHARE = 0.25
# The threshold never goes below this many values per unit of the scan's epsilon: the
# scan's noise is Laplace(2 / epsilon), so a smaller threshold would stop at random.
MIN_THRESHOLD_PER_EPSILON = 6.0
_MANTISSAS_125 = (1, 2, 5)
# Renard-like steps: fine enough that a rows-per-person bound is not doubled by rounding.
NICE_INTEGERS = (1, 2, 3, 4, 5, 6, 8)
_DECADE = (10, 12, 15, 20, 25, 30, 40, 50, 60, 80)


def nice_grid(low_exponent: int, high_exponent: int, *, signed: bool = False) -> np.ndarray:
    """0 and 1-2-5 x 10^e for e in [low_exponent, high_exponent), then 10^high_exponent;
    mirrored into the negatives when ``signed``. Sorted ascending."""
    positive = [m * 10.0**e for e in range(low_exponent, high_exponent) for m in _MANTISSAS_125]
    positive.append(10.0**high_exponent)
    grid = np.array([0.0, *positive])
    return np.concatenate([-grid[:0:-1], grid]) if signed else grid


def nice_integers(limit: int) -> np.ndarray:
    """1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, ... up to the first value >= ``limit``."""
    values = list(NICE_INTEGERS)
    scale = 1
    while values[-1] < limit:
        values.extend(m * scale for m in _DECADE)
        scale *= 10
    cut = int(np.searchsorted(values, limit, side="left"))
    return np.array(values[: cut + 1], dtype=np.float64)


def dp_upper_bound(
    values: np.ndarray,
    *,
    quantile: float,
    epsilon: float,
    grid: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """An epsilon-DP upper bound from ``grid``: about ``1 - quantile`` of the values exceed it.

    A quarter of epsilon buys a noisy count ``n`` of the values; the threshold is
    ``max((1 - quantile) * n, 6 / epsilon_scan)``. When that floor had to lift the threshold
    (too few values for the quantile asked), the result steps one grid value outwards as
    headroom; with too few values for any estimate (noisy count below twice the threshold)
    it is the grid's top, which clamps nothing. All of this is post-processing.
    """
    if not 0 < quantile < 1 or not epsilon > 0:
        raise ValueError("quantile must be in (0, 1) and epsilon positive")
    values = np.sort(np.asarray(values, dtype=np.float64))
    values = values[np.isfinite(values)]
    grid = np.sort(np.asarray(grid, dtype=np.float64))
    count_epsilon = epsilon * COUNT_SHARE
    scan_epsilon = epsilon - count_epsilon
    noisy_count = len(values) + rng.laplace(0.0, 1.0 / count_epsilon)
    floor = math.ceil(MIN_THRESHOLD_PER_EPSILON / scan_epsilon)
    wanted = math.ceil((1 - quantile) * max(noisy_count, 0.0))
    threshold = max(wanted, floor)
    # Noise for every grid value is drawn even if the scan stops early: drawing it up front
    # is the same mechanism and keeps the scan vectorized.
    # The counts are monotonic (one more person raises some and lowers none), so the
    # queries need Laplace(2 / epsilon) rather than 4 / epsilon (Lyu, Su and Li 2017, alg. 7).
    threshold_noise = rng.laplace(0.0, 2.0 / scan_epsilon)
    query_noise = rng.laplace(0.0, 2.0 / scan_epsilon, len(grid))
    if noisy_count < 2 * threshold:
        return float(grid[-1])
    above = len(values) - np.searchsorted(values, grid, side="right")
    stops = np.flatnonzero(above + query_noise <= threshold + threshold_noise)
    index = int(stops[0]) if len(stops) else len(grid) - 1
    if wanted < floor:
        index = min(index + 1, len(grid) - 1)
    return float(grid[index])


def dp_lower_bound(
    values: np.ndarray,
    *,
    quantile: float,
    epsilon: float,
    grid: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """The mirror of `dp_upper_bound`: about ``quantile`` of the values fall below it."""
    mirrored = -np.asarray(grid, dtype=np.float64)
    upper = dp_upper_bound(
        -np.asarray(values, dtype=np.float64),
        quantile=1 - quantile,
        epsilon=epsilon,
        grid=mirrored,
        rng=rng,
    )
    return -upper + 0.0  # never -0.0
