"""Chinese resident identity numbers (GB 11643): region prefix, birth date, check character."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import digit_matrix, fullmatch

__all__ = ["PROVINCE_CODES", "is_resident_id"]

# First two digits of GB/T 2260 region codes (31 provinces; 71 Taiwan, 81 Hong Kong,
# 82 Macao; 83 is used by residence permits of Taiwan residents).
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = np.array(list("10X98765432"))
_SHAPE = r"[0-9]{6}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"


def is_resident_id(values: pd.Series) -> np.ndarray:
    """18 characters, a known province prefix, a real past birth date and a valid check char."""
    ok = fullmatch(values, _SHAPE)
    if not ok.any():
        return ok
    cand = values[ok]
    province = cand.str.slice(0, 2).isin(PROVINCE_CODES).to_numpy()
    birth = pd.to_datetime(cand.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    born = (birth.notna() & (birth <= pd.Timestamp.now())).to_numpy()
    digits = digit_matrix(cand.str.slice(0, 17), 17)
    expected = CHECK_CHARS[(digits * WEIGHTS).sum(axis=1) % 11]
    check = expected == cand.str.slice(17).str.upper().to_numpy(dtype=str)
    ok[ok] = province & born & check
    return ok
