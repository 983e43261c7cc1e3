"""What a detector is: a named, vectorized test over the values of one column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ValueDetector", "digit_matrix", "fullmatch", "name_has_hint"]


@dataclass(frozen=True)
class ValueDetector:
    """A kind of value recognised by its text.

    ``match`` takes the non-null values of a column as stripped strings and returns one
    boolean per value. ``hints`` are column-name fragments that break ties between kinds
    whose share of matching values is about equal; they never detect a kind on their own.
    ``strong`` kinds (checksums, strict formats) win over cardinality heuristics.
    """

    kind: str
    match: Callable[[pd.Series], np.ndarray]
    hints: tuple[str, ...] = ()
    strong: bool = True


def digit_matrix(values: pd.Series, width: int) -> np.ndarray:
    """An ``(n, width)`` int array of the digits of ASCII-digit strings all ``width`` long."""
    if values.empty:
        return np.zeros((0, width), dtype=np.int64)
    raw = "".join(values.tolist()).encode("ascii")
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width).astype(np.int64) - 48


def name_has_hint(column: str, hints: tuple[str, ...]) -> bool:
    lowered = column.lower()
    return any(hint in lowered for hint in hints)


def fullmatch(values: pd.Series, pattern: str) -> np.ndarray:
    return values.str.fullmatch(pattern, na=False).to_numpy(dtype=bool)
