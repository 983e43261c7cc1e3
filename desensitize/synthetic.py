"""Synthetic samples: rows in a policy's output domain, made without reading any data row.

A buyer should see what an extract looks like before a lease, yet no row shown before a
lease may be real. So plausible raw inputs are drawn per detected column kind (resident
IDs with valid checksums, mobiles with real prefixes, pooled fake names and addresses,
dates in a plausible range, numbers within the rule's declared bounds), each column on
its own, and the policy's rules then run on them under a throwaway key: tokens, masks
and generalizations have the real output format, but no value comes from the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from desensitize.detect.resident_id import CHECK_CHARS, PROVINCE_CODES, WEIGHTS
from desensitize.engine import apply
from desensitize.keys import Keyring
from desensitize.policy import ColumnPolicy, Policy, as_policy
from desensitize.profile import Profile
from desensitize.rules.base import Rule, kind_of
from desensitize.rules.fake import pool
from desensitize.rules.generalize import Generalize
from desensitize.rules.noise import Noise
from desensitize.rules.top_bottom_code import TopBottomCode

__all__ = ["NOTE", "synthetic_inputs", "synthetic_sample"]

NOTE = "generated from the policy's output domain; no row is a real record"
MAX_PLACEHOLDERS = 12
DEFAULT_BOUNDS = (0.0, 1000.0)
# Mainland prefixes only: 71/81/82/83 are Taiwan, Hong Kong, Macao and residence permits.
_PROVINCES = np.array(sorted(p for p in PROVINCE_CODES if p < "70"))
_MOBILE_PREFIXES = np.array(
    [str(p) for p in (*range(130, 140), 147, *range(150, 160), 166, 173, 177, 178)]
    + [str(p) for p in (*range(180, 190), 191, 198, 199)]
)
_PLATE_PROVINCES = np.array(list("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青川宁琼"))
_PLATE_CHARS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
_BIRTHS = (np.datetime64("1945-01-01"), np.datetime64("2008-12-31"))
_RECENT = (np.datetime64("2024-01-01"), np.datetime64("2026-12-31"))
_BIRTH_HINTS = ("birth", "dob", "出生", "生日")
Facts = Mapping[str, Any]


def synthetic_sample(
    policy: Policy | Mapping[str, Any],
    profile: Profile | Mapping[str, Any],
    *,
    rows: int = 20,
    seed: int = 0,
    key: bytes | None = None,
) -> pd.DataFrame:
    """`rows` synthetic rows with the policy's output columns, in its output formats.

    `profile` is the table's profile (a `Profile` or its dict form); only its per-column
    kinds, dtypes and distinct counts are used. k-anonymity and l-diversity are left out:
    they suppress rows of real classes, which synthetic rows have none of. The inputs are
    the same for a seed; keyed outputs (tokens, fakes, noise) also need the same `key`,
    and without one a random throwaway key is drawn, linked to no lease.
    """
    rules_only = as_policy(policy).rules_only()
    inputs = synthetic_inputs(rules_only, profile, rows=rows, seed=seed)
    keys = Keyring(key if key is not None else os.urandom(32))
    return apply(inputs, rules_only, keys).frame.reset_index(drop=True)


def synthetic_inputs(
    policy: Policy | Mapping[str, Any],
    profile: Profile | Mapping[str, Any],
    *,
    rows: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Plausible raw inputs for every column the policy names, each drawn independently."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    policy = as_policy(policy)
    facts = _facts_by_name(profile)
    columns = {}
    for index, column in enumerate(policy.columns):
        rng = np.random.default_rng([seed, index])
        columns[column.name] = _column(column, facts.get(column.name, {}), rows, rng)
    return pd.DataFrame(columns)


def _facts_by_name(profile: Profile | Mapping[str, Any]) -> dict[str, Facts]:
    data = profile.to_dict() if isinstance(profile, Profile) else profile
    return {str(c["name"]): c for c in data.get("columns", [])}


def _column(column: ColumnPolicy, facts: Facts, rows: int, rng: np.random.Generator) -> Any:
    rule = column.rule
    if rule is None:  # dropped: the rules never read it
        return np.full(rows, None, dtype=object)
    values = _for_rule(rule, facts, rows, rng)
    if values is None:
        draw = _KINDS.get(str(facts.get("kind")), _unknown)
        values = draw(column.name, facts, rule, rows, rng)
    return _fitted(values, rule)


def _for_rule(rule: Rule, facts: Facts, rows: int, rng: np.random.Generator) -> Any:
    """Inputs a rule's own parameters call for (a declared range or vocabulary), if any."""
    if isinstance(rule, Generalize) and rule.mode == "geohash":
        lat, lon = _uniform(rng, rows, (18.0, 53.0)), _uniform(rng, rows, (73.0, 135.0))
        return np.char.add(
            np.char.add(np.round(lat, 5).astype(str), ","), np.round(lon, 5).astype(str)
        )
    if isinstance(rule, Generalize) and rule.mode == "hierarchy" and rule.level > 0:
        # The policy's own vocabulary; only its parents reach the output.
        keys = list(rule.params["hierarchy"][0])
        return np.array(keys, dtype=object)[rng.integers(0, len(keys), rows)]
    bounds = _declared_bounds(rule)
    if bounds is not None:
        return _numbers(facts, rng, rows, bounds)
    return None


def _declared_bounds(rule: Rule) -> tuple[float, float] | None:
    if isinstance(rule, Noise | TopBottomCode) and rule.bounds is not None:
        return rule.bounds
    if isinstance(rule, Generalize) and rule.mode == "edges":
        edges = rule.params["edges"]
        return (float(edges[0]), float(edges[-1])) if len(edges) > 1 else None
    return None


def _fitted(values: Any, rule: Rule) -> Any:
    """The values in a type the rule accepts: text when it takes text but not their type."""
    array = pa.array(values, from_pandas=True)
    if rule.accepts_kind(kind_of(array.type)) or not rule.accepts_kind("string"):
        return values
    return pd.Series(values).astype(str).to_numpy(dtype=object)


# -- one generator per detected kind: (column name, profile facts, rule, rows, rng) ---------


def _uniform(rng: np.random.Generator, rows: int, bounds: tuple[float, float]) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], rows)


def _integral(facts: Facts) -> bool:
    return "int" in str(facts.get("dtype", "")).lower()


def _numbers(
    facts: Facts, rng: np.random.Generator, rows: int, bounds: tuple[float, float]
) -> np.ndarray:
    values = _uniform(rng, rows, bounds)
    if _integral(facts):
        return np.clip(np.round(values), np.ceil(bounds[0]), np.floor(bounds[1])).astype(np.int64)
    return np.round(values, 2)


def _digits(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**width, rows).astype(str), width)


def _join(*parts: np.ndarray | str) -> np.ndarray:
    out = np.asarray(parts[0], dtype=object)
    for part in parts[1:]:
        out = out + np.asarray(part, dtype=object)
    return out


def _days(
    rng: np.random.Generator, rows: int, span: tuple[np.datetime64, np.datetime64]
) -> np.ndarray:
    length = int((span[1] - span[0]).astype(int))
    return span[0] + rng.integers(0, length + 1, rows).astype("timedelta64[D]")


def _resident_id(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    region = _join(
        _PROVINCES[rng.integers(0, len(_PROVINCES), rows)],
        np.char.zfill(rng.integers(1, 21, rows).astype(str), 2),
        np.char.zfill(rng.integers(1, 31, rows).astype(str), 2),
    )
    birth = np.char.replace(_days(rng, rows, _BIRTHS).astype(str), "-", "")
    first17 = _join(region, birth, _digits(rng, rows, 3)).astype("U17")
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(rows, 17)
    check = CHECK_CHARS[((digits.astype(np.int64) - 48) * WEIGHTS).sum(axis=1) % 11]
    return _join(first17, check)


def _mobile(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    prefixes = _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), rows)]
    return _join(prefixes, _digits(rng, rows, 8))


def _bank_card(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    body = np.concatenate(
        [np.tile([6, 2, 2, 2], (rows, 1)), rng.integers(0, 10, (rows, 11))], axis=1
    )
    doubled = body[:, ::-1][:, 0::2] * 2  # every second digit from the right, check to come
    doubled -= 9 * (doubled > 9)
    check = (10 - (doubled.sum(axis=1) + body[:, ::-1][:, 1::2].sum(axis=1)) % 10) % 10
    full = np.concatenate([body, check[:, None]], axis=1).astype(np.uint8) + 48
    return np.frombuffer(full.tobytes(), dtype="S16").astype(str).astype(object)


def _pooled(kind: str) -> Callable[..., np.ndarray]:
    def draw(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
        values = pool(kind)
        return np.array(values.take(pa.array(rng.integers(0, len(values), rows))).to_pylist())

    return draw


def _plate(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    tail = _PLATE_CHARS[rng.integers(0, len(_PLATE_CHARS), (rows, 5))]
    letters = _PLATE_CHARS[rng.integers(0, 24, rows)]
    provinces = _PLATE_PROVINCES[rng.integers(0, len(_PLATE_PROVINCES), rows)]
    return _join(provinces, letters, *(tail[:, i] for i in range(5)))


def _ipv4(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    octets = rng.integers(1, 255, (rows, 4)).astype(str)
    return _join(octets[:, 0], ".", octets[:, 1], ".", octets[:, 2], ".", octets[:, 3])


def _temporal(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    birth = any(hint in name.lower() for hint in _BIRTH_HINTS)
    by_year = isinstance(rule, Generalize) and rule.params.get("to") in ("year", "decade")
    days = _days(rng, rows, _BIRTHS if birth or by_year else _RECENT).astype("datetime64[s]")
    if facts.get("kind") == "datetime":
        days = days + rng.integers(0, 86_400, rows).astype("timedelta64[s]")
    if "datetime" in str(facts.get("dtype", "")) or not rule.accepts_kind("string"):
        return pd.to_datetime(days)
    text = pd.Series(pd.to_datetime(days))
    fmt = "%Y-%m-%d %H:%M:%S" if facts.get("kind") == "datetime" else "%Y-%m-%d"
    return text.dt.strftime(fmt).to_numpy(dtype=object)


def _prefixed(prefix: str) -> Callable[..., np.ndarray]:
    def draw(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
        if _integral(facts):
            return rng.integers(10**8, 10**9, rows)
        return _join(prefix, _digits(rng, rows, 9))

    return draw


def _coordinate(bounds: tuple[float, float]) -> Callable[..., np.ndarray]:
    def draw(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
        return np.round(_uniform(rng, rows, bounds), 6)

    return draw


def _age(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    return rng.integers(0, 96, rows)


def _amount(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    return _numbers(facts, rng, rows, DEFAULT_BOUNDS)


def _boolean(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    return rng.random(rows) < 0.5


def _category(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    """The values the profile publishes, if any; else numbered placeholders, never data."""
    published = facts.get("values")
    if isinstance(published, list) and published:
        return np.array(published, dtype=object)[rng.integers(0, len(published), rows)]
    count = min(max(int(facts.get("distinct") or MAX_PLACEHOLDERS), 1), MAX_PLACEHOLDERS)
    picks = rng.integers(1, count + 1, rows)
    if not rule.accepts_kind("string"):
        return picks
    return _join(f"<{name} ", picks.astype(str), ">")


def _empty(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    return np.full(rows, None, dtype=object)


def _unknown(name: str, facts: Facts, rule: Rule, rows: int, rng: np.random.Generator):
    numeric = any(t in str(facts.get("dtype", "")).lower() for t in ("int", "float"))
    if numeric or not rule.accepts_kind("string"):
        return _numbers(facts, rng, rows, DEFAULT_BOUNDS)
    return _category(name, facts, rule, rows, rng)


_KINDS: dict[str, Callable[..., Any]] = {
    "cn_resident_id": _resident_id,
    "cn_mobile": _mobile,
    "bank_card": _bank_card,
    "email": _pooled("email"),
    "cn_name": _pooled("name"),
    "cn_address": _pooled("address"),
    "cn_plate": _plate,
    "ipv4": _ipv4,
    "date": _temporal,
    "datetime": _temporal,
    "code": _prefixed("S"),
    "record_id": _prefixed("R"),
    "latitude": _coordinate((18.0, 53.0)),
    "longitude": _coordinate((73.0, 135.0)),
    "age": _age,
    "amount": _amount,
    "number": _amount,
    "measurement": _amount,
    "boolean": _boolean,
    "category": _category,
    "empty": _empty,
}
