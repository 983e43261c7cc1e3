"""Kinds of text columns that no value pattern claimed: categories, codes, free text."""

from __future__ import annotations

import pandas as pd

from desensitize.detect.base import fullmatch
from desensitize.detect.numeric import SMALL_CATEGORY

__all__ = ["is_small_category", "text_kind"]

_CODE = r"[A-Za-z]{0,6}[-_]?[0-9]{4,}[A-Za-z0-9]*"
_PROSE = r"[\s，。！？；、,.!?;]"
FREE_TEXT_LENGTH = 20


def is_small_category(text: pd.Series) -> bool:
    distinct = text.nunique()
    return distinct <= SMALL_CATEGORY and distinct <= 0.5 * len(text)


def text_kind(text: pd.Series) -> tuple[str, float]:
    """``(kind, share)`` for stripped non-null strings that matched no value detector."""
    if is_small_category(text):
        return "category", 1.0
    code = float(fullmatch(text, _CODE).mean())
    if code >= 0.8:
        return "code", code
    distinct_ratio = text.nunique() / len(text)
    if distinct_ratio <= 0.05:
        return "category", 1.0
    prose = float(text.str.contains(_PROSE, regex=True, na=False).mean())
    if text.str.len().mean() >= FREE_TEXT_LENGTH or prose >= 0.5:
        return "free_text", 1.0
    if distinct_ratio >= 0.9:
        return "record_id", 1.0
    return "text", 1.0
