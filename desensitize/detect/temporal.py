"""Dates and datetimes written as text (ISO, slashes, dots, 年月日, compact yyyymmdd)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from desensitize.detect.base import fullmatch

__all__ = ["has_time_of_day", "is_date"]

_DATE = r"(?:19|20)[0-9]{2}(?:[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12][0-9]|3[01])日?|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
_TIME = r"(?:[ T][0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse the date-shaped values; others become NaT."""
    shaped = fullmatch(values, _DATE + _TIME)
    normal = values.where(shaped).str.replace(r"[/.年月]", "-", regex=True).str.replace("日", "")
    # Compact yyyymmdd gets dashes so that single-digit months elsewhere parse the same way.
    normal = normal.str.replace(r"^([0-9]{4})([0-9]{2})([0-9]{2})", r"\1-\2-\3", regex=True)
    normal = normal.str.replace(r"-([0-9])(?=-|$|[ T])", r"-0\1", regex=True)
    return pd.to_datetime(normal, format="ISO8601", errors="coerce", utc=True)


def is_date(values: pd.Series) -> np.ndarray:
    return parse_dates(values).notna().to_numpy()


def has_time_of_day(parsed: pd.Series) -> bool:
    """True if any parsed value is not at midnight (a datetime rather than a date)."""
    valid = parsed.dropna()
    return bool(len(valid)) and bool((valid != valid.dt.normalize()).any())
