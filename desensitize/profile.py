"""Profile a table: detect each column's kind and propose a classification and a rule.

The profile carries no cell values, only kinds, shares and counts, so it may be shown to
anyone allowed to see the schema. The suggested policy is safe to accept as it stands:

- direct identifiers (resident IDs, mobiles, cards, e-mails, names, plates, codes) become
  keyed per-lease tokens, never display masks: the 6+4 and 3+4 masks are jointly unique
  and re-identify everyone once joined with another table that shows the same digits;
- one sensitive categorical column (diagnosis, religion, ethnicity, ...) is kept for
  l-diversity with l = 2, and any further one is dropped;
- noise bounds are differentially private estimates on a public grid of nice values
  (`desensitize.dp_bounds`), never the data's own quantiles, which would surface as the
  clamp values; the epsilon they cost is reported (the exchange charges it to the
  provider's own allowance, not to the budget buyers draw on);
- a column that looks like a person key repeated across rows is proposed as the privacy
  unit, with a DP estimate of the rows one person may contribute.

The DP estimates are noisy: pass ``random_state`` to repeat them (tests); otherwise fresh
entropy is used, because noise from a seed an adversary knows protects nothing. With a
few hundred persons or fewer the small epsilon cannot say much, and an estimate falls back
to the top of its public range: wide, so safe, and plainly for the provider to set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from desensitize.detect import MATCH_THRESHOLD, Detection, detect_column
from desensitize.detect.base import name_has_hint
from desensitize.detect.names import is_cn_name
from desensitize.dp_bounds import dp_lower_bound, dp_upper_bound, nice_grid, nice_integers
from desensitize.errors import DataError

__all__ = ["ColumnProfile", "PrivacyUnit", "Profile", "profile", "suggest_rule"]

DEFAULT_NOISE_EPSILON = 1.0
SAMPLE_SEED = 0
# Epsilon of the DP estimates the profile itself makes, reported in `bounds_epsilon`.
BOUNDS_EPSILON = 0.05  # per noised column, split between its bounds when both are estimated
PRIVACY_UNIT_EPSILON = 0.1  # for the rows-per-person bound, which needs more to be useful
UPPER_QUANTILE = 0.99
LOWER_QUANTILE = 0.01
ROWS_PER_PERSON_QUANTILE = 0.9
L_DIVERSITY = 2
NOISE_KINDS = ("amount", "measurement", "number")
# Kinds that cannot be negative by their detection: their lower bound is 0, for free.
NON_NEGATIVE_KINDS = frozenset({"amount", "measurement"})
# Public magnitude of each noised kind (a power of ten no plausible value exceeds), so the
# grid the bounds are chosen from depends on the kind and dtype, never on the values.
MAX_EXPONENT = {"amount": 10, "measurement": 6, "number": 10}
# A person key repeats: distinct values per non-null value in the sample within this range.
REPEAT_RATIO = (0.001, 0.95)

SENSITIVE_HINTS = (
    *("diagnos", "disease", "illness", "sickness", "medical", "health", "religio", "ethnic"),
    *("politic", "criminal", "crime", "conviction", "sexual_orientation"),
    *("zhenduan", "jibing", "bingzhong", "jiankang", "zongjiao", "minzu", "zhengzhi", "fanzui"),
    *("诊断", "疾病", "病种", "病史", "病情", "健康", "民族", "宗教", "信仰", "政治", "党派"),
    *("犯罪", "前科"),
)
# Ordered by how surely the word names one person (a card may in principle be shared).
PERSON_WORDS = (
    *("citizen", "person", "resident", "patient", "student", "passenger", "rider"),
    *("customer", "member", "user", "card"),
)
PERSON_NAME_HINTS = ("name", "xingming", "姓名", "名字")
PERSON_KEY_CJK = ("身份证", "学号", "患者", "病人", "乘客", "会员", "用户", "卡号")
_PERSON_KEY = re.compile(rf"({'|'.join(PERSON_WORDS)})[\W_]*(?:id|no|num|number|code|key)(?![a-z])")

_TOKEN: dict[str, Any] = {"class": "identifier", "rule": "token"}
_FIXED_RULES: dict[str, dict[str, Any]] = {
    # Keyed per-lease tokens: they link rows within one lease only and, unlike masks,
    # keep no raw character, so they stay out of the re-identification count.
    "cn_resident_id": _TOKEN,
    "cn_mobile": _TOKEN,
    "bank_card": _TOKEN,
    "email": _TOKEN,
    "cn_plate": _TOKEN,
    "cn_name": _TOKEN,
    "code": _TOKEN,
    "record_id": _TOKEN,
    # Province, city and district only: no finer than a district column, and counted as a
    # quasi-identifier, so the release gate generalizes or suppresses rare districts.
    # Dropping it would lose little more, but the masked form keeps the column joinable.
    "cn_address": {"class": "quasi_identifier", "rule": "mask", "preset": "address"},
    # Two decimals of a degree: a grid of about one kilometre.
    "latitude": {"class": "quasi_identifier", "rule": "generalize", "decimals": 2},
    "longitude": {"class": "quasi_identifier", "rule": "generalize", "decimals": 2},
    "age": {"class": "quasi_identifier", "rule": "generalize", "width": 10},
    "category": {"class": "quasi_identifier", "rule": "keep"},
    "boolean": {"class": "attribute", "rule": "keep"},
    "free_text": {"class": "drop"},
    "text": {"class": "drop"},
    "empty": {"class": "drop"},
}


def suggest_rule(detection: Detection) -> dict[str, Any]:
    """The policy entry proposed for a detected kind, from the kind alone.

    Noised kinds get their rule without ``bounds``: those need the values and a DP
    estimate, which `profile` adds."""
    if detection.kind in NOISE_KINDS:
        return {"class": "attribute", "rule": "noise", "epsilon": DEFAULT_NOISE_EPSILON}
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
    bounds_epsilon: float = 0.0

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
            "bounds_epsilon": self.bounds_epsilon,
        }


@dataclass(frozen=True)
class PrivacyUnit:
    """The column naming the person behind each row, and the rows one person may add."""

    column: str
    rows_per_person_sampled: float  # sampled rows / distinct keys, both already reported
    max_rows: int  # DP estimate of the 90th percentile, rounded up to a nice integer
    epsilon: float


@dataclass(frozen=True)
class Profile:
    """The profile of a table: its size, the rows sampled and one entry per column."""

    rows: int
    sampled_rows: int
    columns: tuple[ColumnProfile, ...]
    unit: PrivacyUnit | None = None
    l_diversity: str | None = None

    def __getitem__(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def privacy_unit(self) -> str | None:
        return self.unit.column if self.unit is not None else None

    @property
    def bounds_epsilon(self) -> float:
        """Total epsilon of the profile's DP estimates, summed exactly in decimal."""
        spent = [c.bounds_epsilon for c in self.columns]
        if self.unit is not None:
            spent.append(self.unit.epsilon)
        return float(sum((Fraction(str(e)) for e in spent), Fraction(0)))

    def to_dict(self) -> dict[str, Any]:
        unit = None
        if self.unit is not None:
            unit = {
                "column": self.unit.column,
                "rows_per_person_sampled": self.unit.rows_per_person_sampled,
                "max_rows": self.unit.max_rows,
                "epsilon": self.unit.epsilon,
            }
        return {
            "rows": self.rows,
            "sampled_rows": self.sampled_rows,
            "bounds_epsilon": self.bounds_epsilon,
            "privacy_unit": unit,
            "columns": [column.to_dict() for column in self.columns],
        }

    def suggested_policy(self, k: int = 5) -> dict[str, Any]:
        """A policy dict in the shape ``desensitize.Policy.from_dict`` loads."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        policy: dict[str, Any] = {
            "k": k,
            "columns": {c.name: dict(c.suggestion) for c in self.columns},
        }
        if self.l_diversity is not None:
            policy["l_diversity"] = {"column": self.l_diversity, "l": L_DIVERSITY}
        if self.unit is not None:
            policy["privacy_unit"] = {"column": self.unit.column, "max_rows": self.unit.max_rows}
        return policy


def profile(
    df: pd.DataFrame,
    *,
    sample_rows: int = 10_000,
    random_state: int | np.random.Generator | None = None,
) -> Profile:
    """Profile ``df`` from a seeded sample of at most ``sample_rows`` rows.

    ``random_state`` seeds the DP estimates (bounds, rows per person); leave it None
    outside tests so the noise cannot be predicted."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"profile expects a pandas DataFrame, got {type(df).__name__}")
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise ValueError(f"sample_rows must be a positive integer, got {sample_rows!r}")
    if len(set(map(str, df.columns))) != len(df.columns):
        raise DataError("column names must be unique")
    rng = np.random.default_rng(random_state)
    sample = df if len(df) <= sample_rows else df.sample(n=sample_rows, random_state=SAMPLE_SEED)
    sample = sample.set_axis([str(name) for name in df.columns], axis=1)
    detections = {name: detect_column(name, sample[name]) for name in sample.columns}
    unit_column = _privacy_unit_column(sample, detections)
    unit = _privacy_unit(sample, unit_column, rng) if unit_column is not None else None
    # Bounds are estimated over one row per person, so one person moves each count by one.
    persons = sample
    if unit_column is not None:
        key = sample[unit_column]
        persons = sample[~key.duplicated() | key.isna()]

    columns: list[ColumnProfile] = []
    l_diversity: str | None = None
    for name in sample.columns:
        detection = detections[name]
        suggestion = suggest_rule(detection)
        spent = 0.0
        if name == unit_column:
            suggestion = dict(_TOKEN)
        elif detection.kind in NOISE_KINDS:
            suggestion["bounds"] = _noise_bounds(detection.kind, persons[name], rng)
            spent = BOUNDS_EPSILON
        elif detection.kind == "category" and _repeated_names(name, sample[name]):
            # A person's name repeated over their rows looks like a small category to
            # the detector; kept as a quasi-identifier it would be released raw.
            suggestion = dict(_TOKEN)
        elif detection.kind == "category" and name_has_hint(name, SENSITIVE_HINTS):
            # The policy's l-diversity names one column; a second sensitive column kept
            # raw would have no protection at all, so it is dropped.
            if l_diversity is None:
                l_diversity = name
                suggestion = {"class": "sensitive", "rule": "keep"}
            else:
                suggestion = {"class": "drop"}
        columns.append(_column_profile(name, sample[name], detection, suggestion, spent))
    return Profile(
        rows=len(df),
        sampled_rows=len(sample),
        columns=tuple(columns),
        unit=unit,
        l_diversity=l_diversity,
    )


def _column_profile(
    name: str,
    values: pd.Series,
    detection: Detection,
    suggestion: dict[str, Any],
    bounds_epsilon: float,
) -> ColumnProfile:
    non_null = values.dropna()
    return ColumnProfile(
        name=name,
        dtype=str(values.dtype),
        kind=detection.kind,
        share=detection.share,
        hint_used=detection.hint_used,
        null_share=float(1 - len(non_null) / len(values)) if len(values) else 0.0,
        distinct=int(non_null.nunique()),
        suggestion=suggestion,
        bounds_epsilon=bounds_epsilon,
    )


def _noise_bounds(kind: str, values: pd.Series, rng: np.random.Generator) -> list[float]:
    """DP ``[low, high]`` clamp bounds from a grid set by the kind and dtype only."""
    x = values.dropna().to_numpy(dtype=np.float64)
    integer = pd.api.types.is_integer_dtype(values.dtype)
    high_exponent = MAX_EXPONENT[kind]
    if integer:
        dtype_max = float(np.iinfo(values.dtype).max)
        high_exponent = min(high_exponent, math.ceil(math.log10(dtype_max)))
    # Integers need no grid below 1; fractional values get down to 0.01.
    low_exponent = 0 if integer else -2
    if kind in NON_NEGATIVE_KINDS:
        grid = nice_grid(low_exponent, high_exponent)
        low = 0.0
        high = dp_upper_bound(
            x, quantile=UPPER_QUANTILE, epsilon=BOUNDS_EPSILON, grid=grid, rng=rng
        )
    else:
        grid = nice_grid(low_exponent, high_exponent, signed=True)
        half = BOUNDS_EPSILON / 2
        low = dp_lower_bound(x, quantile=LOWER_QUANTILE, epsilon=half, grid=grid, rng=rng)
        high = dp_upper_bound(x, quantile=UPPER_QUANTILE, epsilon=half, grid=grid, rng=rng)
    if high <= low:  # two noisy estimates may cross: widen to the next grid value
        above = grid[grid > low]
        high = float(above[0]) if len(above) else low + 1.0
    return [_plain(low), _plain(high)]


def _plain(value: float) -> float:
    """Whole numbers as ints, so a policy reads ``[0, 50000]`` rather than ``[0.0, 50000.0]``."""
    return int(value) if float(value).is_integer() else float(value)  # type: ignore[return-value]


def _repeated_names(name: str, values: pd.Series) -> bool:
    """A column called a name whose values are mostly Chinese personal names."""
    if not name_has_hint(name, PERSON_NAME_HINTS):
        return False
    text = values.dropna().astype(str).str.strip()
    return bool(len(text)) and float(np.mean(is_cn_name(text))) >= MATCH_THRESHOLD


def _person_key_rank(name: str, kind: str) -> int | None:
    """How surely a column names a person (lower is surer), or None if it does not."""
    if kind == "cn_resident_id":
        return 0
    match = _PERSON_KEY.search(name.lower())
    if match:
        return 1 + PERSON_WORDS.index(match.group(1))
    for index, word in enumerate(PERSON_KEY_CJK):
        if word in name:
            return 1 + len(PERSON_WORDS) + index
    if kind == "cn_mobile":
        return 1 + len(PERSON_WORDS) + len(PERSON_KEY_CJK)
    return None


def _privacy_unit_column(sample: pd.DataFrame, detections: dict[str, Detection]) -> str | None:
    """The surest person key whose values repeat across rows, if any.

    A table whose keys are all (or nearly all) distinct has one row per person and needs
    no unit; a key with almost no distinct values is a category, not a person."""
    candidates: list[tuple[int, int, str]] = []
    for index, name in enumerate(sample.columns):
        rank = _person_key_rank(name, detections[name].kind)
        if rank is None:
            continue
        values = sample[name].dropna()
        if values.empty:
            continue
        ratio = values.nunique() / len(values)
        if REPEAT_RATIO[0] <= ratio <= REPEAT_RATIO[1]:
            candidates.append((rank, index, name))
    return min(candidates)[2] if candidates else None


def _privacy_unit(sample: pd.DataFrame, column: str, rng: np.random.Generator) -> PrivacyUnit:
    key = sample[column]
    per_person = key.value_counts(dropna=True).to_numpy(dtype=np.float64)
    # A row without a key is taken to be a person of its own.
    counts = np.concatenate([per_person, np.ones(int(key.isna().sum()))])
    grid = nice_integers(max(len(sample), 1))
    estimate = dp_upper_bound(
        counts,
        quantile=ROWS_PER_PERSON_QUANTILE,
        epsilon=PRIVACY_UNIT_EPSILON,
        grid=grid,
        rng=rng,
    )
    return PrivacyUnit(
        column=column,
        rows_per_person_sampled=round(int(key.notna().sum()) / max(len(per_person), 1), 2),
        max_rows=max(1, math.ceil(estimate)),
        epsilon=PRIVACY_UNIT_EPSILON,
    )
