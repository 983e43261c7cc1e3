"""Record-level differential-privacy noise over whole columns, calibrated like diffprivlib.

Each value is clipped to ``[lower, upper]``, so one record changes the input by at most
``sensitivity = upper - lower``, and perturbed with noise whose scale is exactly the one
diffprivlib's ``Laplace`` / ``GaussianAnalytic`` mechanism would use for that sensitivity.

Floating-point safety: textbook ``x + scale * log(u)`` leaks the input through the low
bits of the result (Mironov 2012). We use *discrete noise on an integer grid* instead of
Mironov's snapping mechanism: snapping rounds the output to a power of two at least as
large as the noise scale, a visible coarsening that would make the output distinguishable
from diffprivlib's; a grid of ``2**24`` steps over ``[lower, upper]`` is far finer than the
noise, so the output matches diffprivlib's in distribution (see the tests) while every
operation that touches the secret value is exact integer arithmetic:

* the clipped input is quantized to ``n`` in ``0 .. GRID_STEPS``;
* Laplace: ``n + G1 - G2`` with ``G1, G2`` geometric, i.e. exact discrete Laplace noise
  with scale ``scale / step``, which is pure ``epsilon``-DP over ``|n - n'| <= GRID_STEPS``;
  the geometric draws are ``floor(E * scale / step)`` with ``E = -log(U)`` and ``U`` drawn
  with full floating-point precision, so every integer stays reachable far into the tails;
* Gaussian: ``n + rint(sigma / step * N(0, 1))``, which is post-processing of the
  continuous Gaussian mechanism on the integer ``n`` (rounding hides the low bits);
* the noisy integer is clipped to ``0 .. GRID_STEPS`` (post-processing) and mapped back,
  so outputs are grid points within ``[lower, upper]``, as diffprivlib's truncated
  mechanisms clamp theirs.

Missing values (NaN) stay missing: the noise hides values, not their presence.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = [
    "GRID_STEPS",
    "MIN_EPSILON",
    "add_gaussian",
    "add_laplace",
    "gaussian_scale",
    "laplace_scale",
]

GRID_STEPS = 2**24
# Below this the noise on the 2**24-step grid exceeds float64's exact integer range.
MIN_EPSILON = 1e-6


def laplace_scale(sensitivity: float, epsilon: float, delta: float = 0.0) -> float:
    """The scale diffprivlib's ``Laplace`` uses: ``sensitivity / (epsilon - log(1 - delta))``."""
    return sensitivity / (epsilon - math.log(1 - delta))


def add_laplace(
    values: np.ndarray,
    *,
    epsilon: float,
    lower: float,
    upper: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pure ``epsilon``-DP Laplace noise per value, with sensitivity ``upper - lower``."""
    x = _check_common(values, epsilon=epsilon, lower=lower, upper=upper, rng=rng)
    scale = laplace_scale(upper - lower, epsilon)
    return _on_grid(x, lower, upper, lambda n, step: _discrete_laplace(rng, n.shape, scale / step))


def add_gaussian(
    values: np.ndarray,
    *,
    epsilon: float,
    delta: float,
    lower: float,
    upper: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(epsilon, delta)``-DP Gaussian noise per value, calibrated as ``GaussianAnalytic``."""
    x = _check_common(values, epsilon=epsilon, lower=lower, upper=upper, rng=rng)
    _check_real("delta", delta)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    sigma = gaussian_scale(upper - lower, epsilon, delta)
    return _on_grid(
        x, lower, upper, lambda n, step: np.rint(rng.standard_normal(n.shape) * sigma / step)
    )


def gaussian_scale(sensitivity: float, epsilon: float, delta: float) -> float:
    """The standard deviation diffprivlib's ``GaussianAnalytic`` uses (Balle and Wang 2018)."""
    if sensitivity == 0:
        return 0.0
    # Imported here: diffprivlib brings scikit-learn and SciPy (about 100 MB resident),
    # which a run with Laplace noise alone never needs.
    from diffprivlib.mechanisms import GaussianAnalytic

    mechanism = GaussianAnalytic(epsilon=epsilon, delta=delta, sensitivity=sensitivity)
    return math.sqrt(mechanism.variance(0.0))


def _check_real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")


def _check_common(
    values: object, *, epsilon: object, lower: object, upper: object, rng: object
) -> np.ndarray:
    """Types first (TypeError), then ranges (ValueError), as diffprivlib's mechanisms do."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError("values must be numeric") from exc
    for name, value in (("epsilon", epsilon), ("lower", lower), ("upper", upper)):
        _check_real(name, value)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not math.isfinite(epsilon) or epsilon < MIN_EPSILON:  # type: ignore[arg-type, operator]
        raise ValueError(f"epsilon must be finite and at least {MIN_EPSILON:g}, got {epsilon}")
    if not (math.isfinite(lower) and math.isfinite(upper)):  # type: ignore[arg-type]
        raise ValueError("lower and upper must be finite")
    if lower > upper:  # type: ignore[operator]
        raise ValueError(f"lower ({lower}) must not exceed upper ({upper})")
    return x


def _on_grid(x: np.ndarray, lower: float, upper: float, noise) -> np.ndarray:
    """Quantize clipped values to integers ``0..GRID_STEPS``, add integer noise, map back."""
    missing = np.isnan(x)
    if upper == lower:
        return np.where(missing, np.nan, float(lower))
    step = (upper - lower) / GRID_STEPS
    n = np.rint((np.clip(np.where(missing, lower, x), lower, upper) - lower) / step)
    noisy = np.clip(n + noise(n, step), 0, GRID_STEPS)
    out = np.clip(lower + noisy * step, lower, upper)
    out[missing] = np.nan
    return out


def _discrete_laplace(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Integer noise with ``P(z) ∝ exp(-|z| / scale)``: the difference of two geometrics."""
    return np.floor(_exponential(rng, shape) * scale) - np.floor(_exponential(rng, shape) * scale)


def _exponential(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard exponential draws ``-log(U)`` with ``U`` uniform at full float precision.

    ``rng.random()`` yields multiples of 2**-53, which cuts the tail at 36.7 and leaves
    gaps in it; drawing the exponent geometrically and the 52 mantissa bits uniformly
    gives every double in (0, 1) its exact probability.
    """
    exponent = np.minimum(rng.geometric(0.5, shape), 1022)
    mantissa = rng.integers(0, 2**52, shape, dtype=np.uint64)
    return -np.log(np.ldexp(1.0 + mantissa * 2.0**-52, -exponent))
