"""`top_bottom_code`: clip extreme values to fixed bounds or to quantiles of the column."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.rules.base import Context, Params, Rule

__all__ = ["TopBottomCode"]


class TopBottomCode(Rule):
    """Values below the lower bound become the bound, likewise above the upper one."""

    name = "top_bottom_code"
    accepts = frozenset({"numeric"})

    def configure(self, params: Params) -> None:
        self.bounds = params.pair("bounds")
        self.quantiles = params.pair("quantiles")
        if (self.bounds is None) == (self.quantiles is None):
            raise params.fail("needs exactly one of 'bounds' [lower, upper] or 'quantiles'")
        if self.quantiles is not None and not 0 <= self.quantiles[0] < self.quantiles[1] <= 1:
            raise params.fail("parameter 'quantiles' must be within [0, 1]")

    @property
    def releases_raw(self) -> bool:
        return True  # values between the bounds pass through

    def needs_fit(self) -> bool:
        return self.quantiles is not None

    def fit(self, values: pa.Array) -> tuple[float, float] | None:
        """The quantile bounds over the whole column (None if it has no values)."""
        present = pc.drop_null(pc.cast(values, pa.float64())).to_numpy(zero_copy_only=False)
        present = present[~np.isnan(present)]
        if len(present) == 0:
            return None
        lower, upper = np.quantile(present, self.quantiles)
        return float(lower), float(upper)

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        bounds = ctx.state if self.needs_fit() else self.bounds
        if bounds is None:
            return values
        lower, upper = bounds
        if pa.types.is_integer(values.type):  # stay integral: the nearest bounds inside
            lower, upper = math.ceil(lower), math.floor(upper)
        low = pa.scalar(lower).cast(values.type)
        high = pa.scalar(upper).cast(values.type)
        return pc.min_element_wise(pc.max_element_wise(values, low), high)
