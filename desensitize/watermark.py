"""Per-lease fingerprints that survive a leak: a keyed dither on noisy numbers and a keyed
row order.

Every lease of a release carries the same noisy values, so averaging leases learns
nothing; on top, each lease shifts each noisy value by a keyed amount far below the
noise (a millionth of the bounds' width at most). The shift is a function of the lease
key and the row's position in the release only, so it is post-processing: it reveals
nothing about the data. A leaked file keeps the shifted values whatever is deleted or
re-ordered, and `match_share` tells which lease's shifts they carry.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.keys import Keyring

__all__ = ["DITHER_SHARE", "dither", "match_share", "shuffle_order"]

DITHER_SHARE = 1e-6  # of the bounds' width: invisible next to record noise
_DECIMALS = 9  # values are compared after rounding, so CSV round trips still match


def _rng(keys: Keyring, label: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(keys.derive(label)[:16], "big"))


def dither(
    values: pa.Array, rows: np.ndarray, keys: Keyring, column: str, bounds: tuple[float, float]
) -> pa.Array:
    """`values` shifted by this lease's keyed amount for each release row in `rows`."""
    lower, upper = bounds
    x = pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    shift = _shifts(keys, column, rows) * (upper - lower) * DITHER_SHARE
    out = np.clip(x + shift, lower, upper)
    return pa.array(out, mask=np.isnan(out))


def _shifts(keys: Keyring, column: str, rows: np.ndarray) -> np.ndarray:
    """A keyed value in [-1, 1) per release row: drawn for positions 0..max, then taken, so
    a row's shift does not depend on which other rows a lease holds."""
    size = int(rows.max()) + 1 if len(rows) else 0
    every = _rng(keys, f"dither:{column}").random(size) * 2 - 1
    return every[rows]


def shuffle_order(keys: Keyring, rows: int) -> np.ndarray:
    """A keyed permutation of `rows` rows: the extract's order owes nothing to the input's."""
    return _rng(keys, "shuffle").permutation(rows)


def match_share(leaked: np.ndarray, expected: np.ndarray) -> float:
    """The share of leaked values (finite ones) found among a lease's expected values."""
    leaked = leaked[np.isfinite(leaked)]
    if not len(leaked):
        return 0.0
    found = np.isin(np.round(leaked, _DECIMALS), np.round(expected, _DECIMALS))
    return float(found.mean())
