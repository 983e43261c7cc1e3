"""`noise`: record-level differential-privacy noise on a numeric column.

Noise comes from `desensitize.mechanisms` with a generator seeded from the
keyring, so the same table, policy and keys always give the same output. The
rows are cut into fixed blocks of `ROW_BLOCK` by their position in the input and
each block gets its own generator: the streaming engine processes whole blocks,
so it draws exactly the numbers an in-memory run draws, whatever its batch size.

Epsilon per record must lie in [`MIN_EPSILON`, `MAX_EPSILON`]: above it the noise is
negligible next to the bounds and the "noisy" value is the raw one; below it the noise
is so wide that every value sits on a bound and the column carries nothing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.mechanisms import add_gaussian, add_laplace
from desensitize.rules.base import Context, Params, Rule

__all__ = ["MAX_EPSILON", "MIN_EPSILON", "ROW_BLOCK", "Noise"]

ROW_BLOCK = 10_000
# The documented range of epsilon per record (see the module docstring).
MIN_EPSILON = 0.01
MAX_EPSILON = 10.0


class Noise(Rule):
    """Add Laplace (epsilon) or Gaussian (epsilon, delta) noise, clipped to `bounds`."""

    name = "noise"
    accepts = frozenset({"numeric"})
    keyed = True

    def configure(self, params: Params) -> None:
        self.mechanism = params.choice("mechanism", ("laplace", "gaussian"), "laplace")
        if not params.has("epsilon"):
            raise params.fail("parameter 'epsilon' is required (the privacy loss per record)")
        self.epsilon = params.number("epsilon", positive=True)
        if not MIN_EPSILON <= self.epsilon <= MAX_EPSILON:
            raise params.fail(
                f"parameter 'epsilon' must be between {MIN_EPSILON:g} and {MAX_EPSILON:g} "
                f"per record, got {self.epsilon!r}: above it the value is released nearly "
                "raw, below it the noise leaves nothing of the column"
            )
        self.bounds = params.pair("bounds")
        if self.bounds is None:
            raise params.fail("parameter 'bounds' [lower, upper] is required (it sets the noise)")
        self.delta = params.number("delta", positive=True)
        if self.mechanism == "gaussian" and not (self.delta is not None and self.delta < 1):
            raise params.fail("parameter 'delta' in (0, 1) is required for gaussian noise")
        if self.mechanism == "laplace" and self.delta is not None:
            raise params.fail("parameter 'delta' applies to gaussian noise only")

    @property
    def key_label(self) -> str:
        return f"noise:{self.column}"

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        if ctx.row_offset % ROW_BLOCK:
            raise ValueError(f"row_offset must be a multiple of {ROW_BLOCK}")
        x = pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        seed = int.from_bytes(ctx.keys.derive(self.key_label)[:16], "big")
        out = np.empty_like(x)
        for start in range(0, len(x), ROW_BLOCK):
            block = (ctx.row_offset + start) // ROW_BLOCK
            rng = np.random.default_rng([seed, block])
            out[start : start + ROW_BLOCK] = self._noisy(x[start : start + ROW_BLOCK], rng)
        return pa.array(out, mask=np.isnan(out))

    def _noisy(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lower, upper = self.bounds
        if self.mechanism == "gaussian":
            return add_gaussian(
                x, epsilon=self.epsilon, delta=self.delta, lower=lower, upper=upper, rng=rng
            )
        return add_laplace(x, epsilon=self.epsilon, lower=lower, upper=upper, rng=rng)
