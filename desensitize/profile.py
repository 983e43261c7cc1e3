"""Profile a table: detect each column's kind and propose a classification and a rule.

The profile carries no cell values, only kinds, shares and counts, so it may be shown to
anyone allowed to see the schema. The suggested policy is for the provider to review:
amount bounds come from the data's own quantiles (rounded to two significant digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from desensitize.detect import Detection, detect_column
from desensitize.errors import DataError

__all__ = ["ColumnProfile", "Profile", "profile", "suggest_rule"]

DEFAULT_NOISE_EPSILON = 1.0
SAMPLE_SEED = 0

_FIXED_RULES: dict[str, dict[str, Any]] = {
    "cn_resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
    "cn_mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
    "bank_card": {"class": "identifier", "rule": "mask", "preset": "bank_card"},
    "email": {"class": "identifier", "rule": "mask", "preset": "email"},
    # Plates have no mask preset: keep the province and city letter, hide the rest.
    "cn_plate": {"class": "identifier", "rule": "mask", "keep_first": 2, "keep_last": 0},
    "cn_name": {"class": "identifier", "rule": "token"},
    "cn_address": {"class": "identifier", "rule": "fake", "kind": "address"},
    "code": {"class": "identifier", "rule": "token"},
    "record_id": {"class": "identifier", "rule": "token"},
    # Two decimals of a degree: a grid of about one kilometre.
    "latitude": {"class": "quasi_identifier", "rule": "generalize", "decimals": 2},
    "longitude": {"class": "quasi_identifier", "rule": "generalize", "decimals": 2},
    "age": {"class": "quasi_identifier", "rule": "generalize", "width": 10},
    "category": {"class": "quasi_identifier", "rule": "keep"},
    "boolean": {"class": "attribute", "rule": "keep"},
    "measurement": {"class": "attribute", "rule": "keep"},
    "number": {"class": "attribute", "rule": "keep"},
    "free_text": {"class": "drop"},
    "text": {"class": "drop"},
    "empty": {"class": "drop"},
}


def suggest_rule(detection: Detection) -> dict[str, Any]:
    """The policy entry (class, rule and its parameters) proposed for a detected kind."""
    if detection.kind == "amount":
        return {
            "class": "sensitive",
            "rule": "noise",
            "epsilon": DEFAULT_NOISE_EPSILON,
            "bounds": list(detection.details["bounds"]),  # type: ignore[call-overload]
        }
    if detection.kind == "ipv4":
        # A character prefix no longer than any sampled address's first three octets.
        prefix = detection.details["prefix"]
        return {"class": "quasi_identifier", "rule": "generalize", "prefix": prefix}
    if detection.kind in ("date", "datetime"):
        to = "year" if detection.details.get("birth") else "month"
        if detection.kind == "datetime" and to != "year":
            to = "hour"
        return {"class": "quasi_identifier", "rule": "generalize", "to": to}
    return dict(_FIXED_RULES[detection.kind])


@dataclass(frozen=True)
class ColumnProfile:
    """What was found in one column of the sample."""

    name: str
    dtype: str
    kind: str
    share: float
    hint_used: bool
    null_share: float
    distinct: int
    suggestion: dict[str, Any]

    @property
    def classification(self) -> str:
        return str(self.suggestion["class"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "share": round(self.share, 4),
            "hint_used": self.hint_used,
            "null_share": round(self.null_share, 4),
            "distinct": self.distinct,
            "classification": self.classification,
            "rule": dict(self.suggestion),
        }


@dataclass(frozen=True)
class Profile:
    """The profile of a table: its size, the rows sampled and one entry per column."""

    rows: int
    sampled_rows: int
    columns: tuple[ColumnProfile, ...]

    def __getitem__(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "sampled_rows": self.sampled_rows,
            "columns": [column.to_dict() for column in self.columns],
        }

    def suggested_policy(self, k: int = 5) -> dict[str, Any]:
        """A policy dict in the shape ``desensitize.Policy.from_dict`` loads."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return {"k": k, "columns": {c.name: dict(c.suggestion) for c in self.columns}}


def profile(df: pd.DataFrame, *, sample_rows: int = 10_000) -> Profile:
    """Profile ``df`` from a seeded sample of at most ``sample_rows`` rows."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"profile expects a pandas DataFrame, got {type(df).__name__}")
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise ValueError(f"sample_rows must be a positive integer, got {sample_rows!r}")
    if len(set(map(str, df.columns))) != len(df.columns):
        raise DataError("column names must be unique")
    sample = df if len(df) <= sample_rows else df.sample(n=sample_rows, random_state=SAMPLE_SEED)
    columns = tuple(_profile_column(str(name), sample[name]) for name in df.columns)
    return Profile(rows=len(df), sampled_rows=len(sample), columns=columns)


def _profile_column(name: str, values: pd.Series) -> ColumnProfile:
    detection = detect_column(name, values)
    non_null = values.dropna()
    return ColumnProfile(
        name=name,
        dtype=str(values.dtype),
        kind=detection.kind,
        share=detection.share,
        hint_used=detection.hint_used,
        null_share=float(1 - len(non_null) / len(values)) if len(values) else 0.0,
        distinct=int(non_null.nunique()),
        suggestion=suggest_rule(detection),
    )
