"""Chinese postal addresses: Han text carrying several administrative or street markers."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["is_cn_address"]

_PROVINCE = r"省|自治区|特别行政区"
_CITY = r"市|自治州|地区|盟"
_COUNTY = r"区|县|旗|镇|乡|街道"
_STREET = r"路|街|道|巷|弄|胡同|里"
_NUMBER = r"[0-9一二三四五六七八九十]+(?:号|栋|幢|室|单元|楼|座|层)|村|小区"


def is_cn_address(values: pd.Series) -> np.ndarray:
    """Two markers, one of them a street or house number, or any three; at least 6 chars."""
    hits = {
        name: values.str.contains(pattern, regex=True, na=False).to_numpy(dtype=bool)
        for name, pattern in [
            ("province", _PROVINCE),
            ("city", _CITY),
            ("county", _COUNTY),
            ("street", _STREET),
            ("number", _NUMBER),
        ]
    }
    count = np.sum(list(hits.values()), axis=0)
    local = hits["street"] | hits["number"]
    han = values.str.contains(r"[\u4e00-\u9fff]", regex=True, na=False).to_numpy(dtype=bool)
    long_enough = values.str.len().to_numpy() >= 6
    return han & long_enough & ((count >= 3) | ((count >= 2) & local))
