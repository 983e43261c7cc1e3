"""Contribution bounds: how much one person can put into an aggregate.

Noise hides one person only if one person moves the aggregate by a known amount. With a
privacy unit, each person keeps at most ``max_rows`` rows and, in group queries, rows in
at most ``max_groups`` groups. The choice is keyed and uniform: each row gets a rank, a
keyed hash (SipHash) of its person and of its place among that person's rows, and a
person keeps the rows (and groups) of smallest rank. A rank never depends on another
person's rows (not even on where they sit in the table), so adding or removing a person
changes nobody else's choice; repeated queries under one key see the same rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ONE_ROW_ONE_PERSON", "Contribution", "keep_rows"]

ONE_ROW_ONE_PERSON = "one row = one person"
MAX_GROUPS_LIMIT = 1_000


@dataclass(frozen=True)
class Contribution:
    """The privacy unit's column (``None``: each row is its own person) and its bounds."""

    unit: str | None = None
    max_rows: int = 1
    max_groups: int = 1

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_groups > MAX_GROUPS_LIMIT:
            raise ValueError(f"max_groups must be at most {MAX_GROUPS_LIMIT}")
        if self.unit is None and self.max_rows != 1:
            raise ValueError("without a privacy unit each row is one person: max_rows is 1")

    @property
    def rows(self) -> int:
        """Rows one person may contribute: the L1 and L-infinity bound on a count."""
        return self.max_rows if self.unit is not None else 1

    def groups(self, grouped: bool) -> int:
        """Groups one person may touch (L0): never more than the rows it keeps."""
        if not grouped:
            return 1
        return min(self.max_groups, self.rows) if self.unit is not None else 1

    def describe(self) -> str:
        if self.unit is None:
            return ONE_ROW_ONE_PERSON
        return f"one person = one value of {self.unit!r}"


def keep_rows(
    df: pd.DataFrame, contribution: Contribution, *, key: bytes, by: str | None = None
) -> np.ndarray:
    """Positions of the rows kept under ``contribution`` (sorted), for ``by`` if grouped.

    Rows without a person (a missing unit value) are dropped: they cannot be bounded.
    """
    if contribution.unit is None:
        return np.arange(len(df))
    person, _ = pd.factorize(df[contribution.unit], use_na_sentinel=True)
    rank = _ranks(key, df[contribution.unit], person)
    candidates = np.flatnonzero(person >= 0)
    if by is not None:
        candidates = _in_kept_groups(candidates, person, df[by], rank, contribution.max_groups)
    return _smallest_per_person(candidates, person, rank, contribution.max_rows)


def _ranks(key: bytes, units: pd.Series, person: np.ndarray) -> np.ndarray:
    """SipHash of (person, the row's place among the person's rows), under ``key``."""
    hash_key = hashlib.sha256(b"dp-contribution:" + key).hexdigest()[:16]
    who = pd.util.hash_array(units.to_numpy(), hash_key=hash_key, categorize=True)
    place = pd.Series(person).groupby(person).cumcount().to_numpy().astype(np.uint64)
    mixed = who ^ (place * np.uint64(0x9E3779B97F4A7C15))
    return pd.util.hash_array(mixed, hash_key=hash_key)


def _smallest_per_person(
    rows: np.ndarray, person: np.ndarray, rank: np.ndarray, limit: int
) -> np.ndarray:
    """Of ``rows``, each person's ``limit`` rows of smallest rank."""
    order = rows[np.lexsort((rank[rows], person[rows]))]
    who = person[order]
    starts = np.r_[0, np.flatnonzero(who[1:] != who[:-1]) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return np.sort(order[position < limit])


def _in_kept_groups(
    rows: np.ndarray, person: np.ndarray, labels: pd.Series, rank: np.ndarray, limit: int
) -> np.ndarray:
    """Of ``rows``, those in each person's ``limit`` groups; a group's rank is the smallest
    rank of the person's rows in it (rows with no group are dropped)."""
    group, _ = pd.factorize(labels, use_na_sentinel=True)
    rows = rows[group[rows] >= 0]
    if not len(rows):
        return rows
    pair = person[rows].astype(np.int64) * (int(group.max()) + 1) + group[rows]
    pairs, inverse = np.unique(pair, return_inverse=True)
    pair_rank = np.full(len(pairs), np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(pair_rank, inverse, rank[rows])
    pair_person = person[rows][np.unique(inverse, return_index=True)[1]]
    kept_pairs = _smallest_per_person(np.arange(len(pairs)), pair_person, pair_rank, limit)
    keep = np.zeros(len(pairs), bool)
    keep[kept_pairs] = True
    return rows[keep[inverse]]
