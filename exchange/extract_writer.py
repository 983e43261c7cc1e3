"""Spreadsheet formula neutralisation for CSV extracts.

CSV extracts end up in spreadsheets, where a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is run as a formula (CSV injection). So
CSV cells and headers that start with one of those get a leading apostrophe, as
OWASP advises; numeric columns are never touched, so -5 stays the number -5.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise_formulas", "neutralise_names"]

# The full-width forms too: spreadsheets with a Chinese input method accept them as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be taken for spreadsheet formulas.

    Idempotent: a neutralised cell starts with an apostrophe, so it is left alone
    the second time.
    """
    result = frame
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        changed = _neutralise_column(column)
        if changed is not None:
            result = frame.copy(deep=False) if result is frame else result
            result.isetitem(position, changed)
    return result


def neutralise_names(names: Iterable[object]) -> list[str]:
    """Column names for a CSV header, neutralised like cells: headers come from uploads too."""
    return [f"'{n}" if str(n).startswith(FORMULA_PREFIXES) else str(n) for n in names]


def _neutralise_column(column: pd.Series) -> pd.Series | None:
    """The neutralised column, or None if nothing in it needs changing."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = pd.Series(column.cat.categories)
        renamed = _neutralise_column(categories)
        if renamed is None:
            return None
        if renamed.is_unique:
            return column.cat.rename_categories(renamed.to_numpy())
        return _neutralise_column(column.astype(object))
    if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
        return None  # numbers, dates, booleans: a spreadsheet shows them as values
    try:
        mask = column.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)
    except AttributeError:  # an object column without any text
        return None
    if not mask.any():
        return None
    neutral = column.copy()
    neutral[mask] = ("'" + column[mask]).to_numpy()
    return neutral
