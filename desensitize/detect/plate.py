"""Chinese vehicle plate numbers, ordinary (7 characters) and new-energy (8 characters)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import fullmatch

__all__ = ["is_cn_plate"]

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "[A-HJ-NP-Z]"  # plates never use I or O
_ALNUM = "[A-HJ-NP-Z0-9]"
_ORDINARY = rf"{_LETTER}{_ALNUM}{{4}}[A-HJ-NP-Z0-9挂学警港澳]"
# New-energy: small cars put D/F (now A-K) first, large vehicles put it last.
_NEW_ENERGY = rf"{_LETTER}(?:[A-HJK]{_ALNUM}[0-9]{{4}}|[0-9]{{5}}[A-HJK])"


def is_cn_plate(values: pd.Series) -> np.ndarray:
    compact = values.str.replace(r"[\s·•.-]", "", regex=True).str.upper()
    return fullmatch(compact, rf"[{_PROVINCES}](?:{_ORDINARY}|{_NEW_ENERGY})")
