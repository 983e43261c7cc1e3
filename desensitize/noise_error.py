"""How much of a column survives its record noise: the error against the true values.

Record noise calibrated to wide bounds at a small epsilon can leave nothing: the
Laplace scale is ``(upper - lower) / epsilon``, so with bounds far wider than the
values most outputs are clamped onto a bound. A provider only sees that by comparing
the output with the truth, which is what this does, on a sample the provider already
holds (it is never shown to anyone else). It warns when most values sit on a bound or
the output no longer follows the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from desensitize.policy import Policy

__all__ = ["MAX_CLAMPED_SHARE", "MIN_CORRELATION", "NoiseError", "noise_errors"]

# A column is reported as destroyed beyond either of these.
MAX_CLAMPED_SHARE = 0.5
MIN_CORRELATION = 0.1


@dataclass(frozen=True)
class NoiseError:
    """One noisy column's error on a sample: RMSE, values clamped, correlation."""

    column: str
    epsilon: float
    bounds: tuple[float, float]
    rows: int  # rows with both a true and a noisy value
    rmse: float | None
    relative_rmse: float | None  # RMSE over the truth's standard deviation
    clamped_share: float | None  # output values on a bound
    correlation: float | None  # Pearson, output against truth
    generalized_share: float | None  # true values released as no number (gate generalized)
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "bounds": list(self.bounds),
            "rows": self.rows,
            "rmse": self.rmse,
            "relative_rmse": self.relative_rmse,
            "clamped_share": self.clamped_share,
            "correlation": self.correlation,
            "generalized_share": self.generalized_share,
            "warning": self.warning,
        }


def noise_errors(truth: pd.DataFrame, released: pd.DataFrame, policy: Policy) -> list[NoiseError]:
    """The error of every noise column of ``policy`` in ``released`` against ``truth``.

    ``released`` is ``apply(truth, policy, ...).frame``: it keeps the input's index of
    the rows it kept, which lines each output value up with its true value."""
    out = []
    for column in policy.columns:
        rule = column.rule
        if rule is None or rule.name != "noise" or column.name not in released.columns:
            continue
        true = pd.to_numeric(truth.loc[released.index, column.name], errors="coerce")
        out.append(_error(column.name, rule.epsilon, rule.bounds, true, released[column.name]))  # type: ignore[attr-defined]
    return out


def _error(
    name: str,
    epsilon: float,
    bounds: tuple[float, float],
    true: pd.Series,
    released: pd.Series,
) -> NoiseError:
    x = true.to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(released, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(x)
    # With epsilon above 1 the release gate counts the column as a quasi-identifier and may
    # generalize it (to "*"): such values are released, but as no number at all.
    generalized = known & np.isnan(y) & released.notna().to_numpy()
    lost = float(np.mean(generalized[known])) if known.any() else None
    both = known & ~np.isnan(y)
    x, y = x[both], y[both]
    if not len(x):
        warning = _warning(epsilon, bounds, 0.0, None, lost)
        return NoiseError(name, epsilon, bounds, 0, None, None, None, None, lost, warning)
    lower, upper = bounds
    tolerance = (upper - lower) * 1e-9  # far below one step of the noise's grid
    clamped = float(np.mean((y <= lower + tolerance) | (y >= upper - tolerance)))
    rmse = float(np.sqrt(np.mean((y - x) ** 2)))
    spread = float(np.std(x))
    relative = rmse / spread if spread > 0 else None
    correlation = None
    if spread > 0 and float(np.std(y)) > 0:
        correlation = float(np.corrcoef(x, y)[0, 1])
    return NoiseError(
        column=name,
        epsilon=epsilon,
        bounds=bounds,
        rows=int(len(x)),
        rmse=rmse,
        relative_rmse=relative,
        clamped_share=clamped,
        correlation=correlation,
        generalized_share=lost,
        warning=_warning(epsilon, bounds, clamped, correlation, lost),
    )


def _warning(
    epsilon: float,
    bounds: tuple[float, float],
    clamped: float,
    correlation: float | None,
    generalized: float | None,
) -> str | None:
    if generalized is not None and generalized > MAX_CLAMPED_SHARE:
        return (
            f"the release gate generalized {generalized:.0%} of this column's values: noise "
            f"with epsilon {epsilon:g} above 1 per record counts as a quasi-identifier; "
            "lower epsilon to 1 or less, or drop the column"
        )
    problems = []
    if clamped > MAX_CLAMPED_SHARE:
        problems.append(f"{clamped:.0%} of values sit on a bound")
    if correlation is not None and correlation < MIN_CORRELATION:
        problems.append(f"the correlation with the true values is {correlation:.2f}")
    if not problems:
        return None
    scale = (bounds[1] - bounds[0]) / epsilon
    return (
        f"the noise destroys this column: {' and '.join(problems)} (noise scale {scale:g} "
        "for the bounds' width at this epsilon); raise epsilon (above 1 the release gate "
        "counts the column as a quasi-identifier), or drop it and answer its statistics "
        "with the lease's DP queries"
    )
