"""Bank card numbers: 13 to 19 digits passing the Luhn check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import digit_matrix, fullmatch

__all__ = ["is_bank_card", "luhn_valid"]

_WIDTH = 19


def luhn_valid(digits: pd.Series) -> np.ndarray:
    """Luhn check of digit strings up to 19 long; left zero-padding leaves the sum unchanged."""
    d = digit_matrix(digits.str.zfill(_WIDTH), _WIDTH)
    doubled = d[:, 1::2] * 2  # every second digit counting from the check digit at the right
    doubled -= 9 * (doubled > 9)
    return (d[:, 0::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0


def is_bank_card(values: pd.Series) -> np.ndarray:
    compact = values.str.replace(r"[\s-]", "", regex=True)
    ok = fullmatch(compact, r"[1-9][0-9]{12,18}")
    if ok.any():
        ok[ok] = luhn_valid(compact[ok])
    return ok
