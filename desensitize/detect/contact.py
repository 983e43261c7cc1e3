"""Contact and network identifiers: mainland mobile numbers, e-mail, IPv4 addresses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import fullmatch

__all__ = ["ipv4_prefix_length", "is_cn_mobile", "is_email", "is_ipv4"]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"


def is_cn_mobile(values: pd.Series) -> np.ndarray:
    """``1[3-9]`` and nine digits, optionally after +86 / 0086 / 86, spaces and dashes allowed."""
    compact = values.str.replace(r"[\s-]", "", regex=True)
    return fullmatch(compact, r"(?:\+?86|0086)?1[3-9][0-9]{9}")


def is_email(values: pd.Series) -> np.ndarray:
    return fullmatch(values, r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def is_ipv4(values: pd.Series) -> np.ndarray:
    return fullmatch(values, rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def ipv4_prefix_length(values: pd.Series) -> int:
    """Characters of the shortest ``a.b.c.`` prefix among the IPv4 values (0 if none).

    Keeping that many characters of every address hides at least the last octet.
    """
    prefixes = values[is_ipv4(values)].str.extract(r"^([0-9]+\.[0-9]+\.[0-9]+\.)", expand=False)
    return int(prefixes.str.len().min()) if prefixes.notna().any() else 0
