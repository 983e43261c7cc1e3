"""Desensitization policies: which rule each column gets, and the privacy model on top.

A policy is plain data (a dict, a JSON or YAML file) and is fully checked when
it loads: every error names the column and the problem. Columns a policy does
not name are dropped from the output, never passed through, and a column
classified `identifier` or `sensitive` can never be released with raw values.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from desensitize.errors import DataError, PolicyError
from desensitize.rules import RULES, Rule
from desensitize.rules.base import kind_of

__all__ = [
    "CLASSES",
    "MAX_RECORD_EPSILON",
    "ColumnPolicy",
    "LDiversity",
    "Policy",
    "PrivacyUnit",
    "as_policy",
    "schema_of",
]

CLASSES = ("identifier", "quasi_identifier", "sensitive", "attribute", "drop")
PROTECTED = frozenset({"identifier", "sensitive"})
DEFAULT_MAX_SUPPRESSION = 0.05
# Record noise at or below this epsilon per value is differential privacy on its own, so the
# release gate does not count the column as a quasi-identifier; noisier-than-this is
# near-raw and counts like any other released value.
MAX_RECORD_EPSILON = 1.0
# Upper bounds on the privacy models' integers: beyond them no dataset could comply, and a
# huge number would only cost time before the release gate refused it.
MAX_K = 1_000_000
MAX_L = 1_000_000
MAX_UNIT_ROWS = 1_000_000
_POLICY_KEYS = frozenset(
    {"k", "l_diversity", "max_suppression", "columns", "privacy_unit", "search", "quality"}
)
# How the release gate picks generalization levels (see kanon.py and lattice.py).
SEARCHES = ("auto", "optimal", "greedy")
QUALITY_MODELS = ("loss", "entropy", "discernibility", "aecs")
# Rules whose output carries no raw character and is keyed per lease: the gate leaves them out.
_PSEUDONYM_RULES = frozenset({"token", "fake"})


@dataclass(frozen=True)
class LDiversity:
    """Each equivalence class must hold at least `l` distinct values of `column`."""

    column: str
    l: int  # noqa: E741 - the letter of the model's name


@dataclass(frozen=True)
class PrivacyUnit:
    """The column naming the person behind each row; `max_rows` bounds one person's rows
    in aggregates. With it, k and l count distinct persons, not rows."""

    column: str
    max_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column}
        if self.max_rows is not None:
            out["max_rows"] = self.max_rows
        return out


@dataclass(frozen=True)
class ColumnPolicy:
    """One column: its class and, unless dropped, the rule that produces its output."""

    name: str
    classification: str
    rule: Rule | None

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule is not None else "drop"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"class": self.classification}
        if self.rule is not None:
            out["rule"] = self.rule.name
            out.update(copy.deepcopy(self.rule.params))
            if self.rule.link:
                out["link"] = self.rule.link
        return out


def _column(name: str, spec: Any) -> ColumnPolicy:
    if not isinstance(spec, Mapping):
        raise PolicyError(name, f"expected a mapping of settings, got {type(spec).__name__}")
    spec = dict(spec)
    classification = spec.pop("class", None)
    if classification not in CLASSES:
        raise PolicyError(
            name, f"'class' must be one of {', '.join(CLASSES)}; got {classification!r}"
        )
    if classification == "drop":
        if spec:
            raise PolicyError(name, f"class 'drop' takes no settings; got {', '.join(spec)}")
        return ColumnPolicy(name, classification, None)
    default = None if classification in PROTECTED else "keep"
    rule_name = spec.pop("rule", default)
    if rule_name is None:
        raise PolicyError(name, f"class {classification!r} needs a 'rule' (e.g. mask, token)")
    if rule_name not in RULES:
        raise PolicyError(name, f"unknown rule {rule_name!r}; known rules: {', '.join(RULES)}")
    link = spec.pop("link", None)
    rule_class = RULES[rule_name]
    if link is not None and (not isinstance(link, str) or not link or not rule_class.keyed):
        raise PolicyError(name, "'link' must be a group name, and only keyed rules take one")
    rule = rule_class(name, spec, link=link)
    rule.shows_values = classification not in PROTECTED
    # A sensitive column may go out as it is when l-diversity protects it (checked with the
    # policy, which knows the l-diversity column); an identifier never.
    if classification == "identifier" and rule.releases_raw:
        raise PolicyError(
            name, f"rule {rule_name!r} releases raw values, which class {classification!r} forbids"
        )
    return ColumnPolicy(name, classification, rule)


@dataclass(frozen=True)
class Policy:
    """A validated desensitization policy (build it with `from_dict` or `from_file`)."""

    columns: tuple[ColumnPolicy, ...]
    k: int | None = None
    l_diversity: LDiversity | None = None
    max_suppression: float = DEFAULT_MAX_SUPPRESSION
    privacy_unit: PrivacyUnit | None = None
    search: str = "auto"
    quality: str = "loss"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        if not isinstance(data, Mapping):
            raise PolicyError(None, f"a policy must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _POLICY_KEYS)
        if unknown:
            raise PolicyError(None, f"unknown policy key(s): {', '.join(unknown)}")
        specs = data.get("columns")
        if not isinstance(specs, Mapping) or not specs:
            raise PolicyError(None, "'columns' must be a non-empty mapping of column settings")
        columns = tuple(_column(str(name), spec) for name, spec in specs.items())
        policy = cls(
            columns=columns,
            k=_k(data.get("k")),
            l_diversity=_l_diversity(data.get("l_diversity")),
            max_suppression=_max_suppression(data.get("max_suppression")),
            privacy_unit=_privacy_unit(data.get("privacy_unit")),
            search=_choice("search", data.get("search"), SEARCHES),
            quality=_choice("quality", data.get("quality"), QUALITY_MODELS),
        )
        policy._check_privacy_model()
        return policy

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            return cls.from_dict(json.loads(text))
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return cls.from_dict(yaml.safe_load(text))
        raise PolicyError(None, f"policy files must be .json, .yaml or .yml, got {path.name!r}")

    def _check_privacy_model(self) -> None:
        target = self.l_diversity.column if self.l_diversity else None
        for column in self.columns:
            raw = column.rule is not None and column.rule.releases_raw
            if column.classification == "sensitive" and raw and column.name != target:
                raise PolicyError(
                    column.name,
                    f"rule {column.rule.name!r} releases raw values of a sensitive column; "
                    "only the l-diversity column may, since the criterion protects it",
                )
        if target is not None and target in self.names:
            if self.column(target).classification == "quasi_identifier":
                raise PolicyError(target, "the l-diversity column must not be a quasi_identifier")
            rule = self.column(target).rule
            if rule is not None and rule.needs_fit():
                raise PolicyError(target, "the l-diversity column cannot use quantile bounds")
        if self.k is None and self.l_diversity is None:
            return  # no privacy model: nothing is searched, quantile bounds may be fitted
        # Without released quasi-identifiers k and l are vacuous (nothing links a row to a
        # person), so a lease of only non-identifying columns keeps the offer's k.
        for name in self.released_quasi_identifiers:
            rule = self.column(name).rule
            if rule is not None and rule.needs_fit():
                raise PolicyError(
                    name,
                    f"rule {rule.name!r} with quantile bounds is released as a quasi-identifier "
                    "and bounds taken from the data leak it: declare 'bounds'",
                )
        if self.privacy_unit is not None and self.privacy_unit.column in self.names:
            unit = self.column(self.privacy_unit.column)
            if unit.rule is not None and not _is_pseudonym(unit):
                raise PolicyError(
                    unit.name,
                    "the privacy unit names persons: token it or drop it, never release it",
                )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def quasi_identifiers(self) -> list[str]:
        """The columns the policy declares as quasi-identifiers."""
        return [c.name for c in self.columns if c.classification == "quasi_identifier"]

    @property
    def released_quasi_identifiers(self) -> list[str]:
        """Every released column an attacker can join on, whatever its declared class.

        A mask keeps raw characters and keep, generalize and coding release values, so all
        count; keyed per-lease pseudonyms (token, fake), record noise within
        `MAX_RECORD_EPSILON` and the l-diversity column (the criterion protects it) do not.
        """
        target = self.l_diversity.column if self.l_diversity else None
        return [
            c.name
            for c in self.columns
            if c.rule is not None
            and c.name != target
            and not _is_pseudonym(c)
            and not _is_private_noise(c)
        ]

    @property
    def linked(self) -> bool:
        """True if a released pseudonym can tie several rows of one person together."""
        return any(c.rule is not None and _is_pseudonym(c) for c in self.columns)

    @property
    def output_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.rule is not None]

    @property
    def required_columns(self) -> list[str]:
        """Every column the input must have (named ones and the l-diversity column)."""
        extra = [self.l_diversity.column] if self.l_diversity else []
        if self.privacy_unit is not None:
            extra.append(self.privacy_unit.column)
        return list(dict.fromkeys([*self.names, *extra]))

    def column(self, name: str) -> ColumnPolicy:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.k is not None:
            out["k"] = self.k
        if self.l_diversity is not None:
            out["l_diversity"] = {"column": self.l_diversity.column, "l": self.l_diversity.l}
        out["max_suppression"] = self.max_suppression
        if self.privacy_unit is not None:
            out["privacy_unit"] = self.privacy_unit.to_dict()
        # Only when chosen: a policy written before these keys keeps its hash.
        if self.search != SEARCHES[0]:
            out["search"] = self.search
        if self.quality != QUALITY_MODELS[0]:
            out["quality"] = self.quality
        out["columns"] = {c.name: c.to_dict() for c in self.columns}
        return out

    def rules_only(self) -> Policy:
        """The same rules without a privacy model (no k, l or privacy unit): to check that
        the rules run, or to render their output formats. A sensitive column kept as it is
        becomes a plain attribute, since only its l-diversity allowed it."""
        body = {
            k: v for k, v in self.to_dict().items() if k not in ("k", "l_diversity", "privacy_unit")
        }
        body["columns"] = {
            name: {**spec, "class": "attribute"} if spec["class"] == "sensitive" else spec
            for name, spec in body["columns"].items()
        }
        return Policy.from_dict(body)

    def hash(self) -> str:
        """sha256 hex of the canonical JSON form: equal policies hash equal."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def validate_for(self, data: pd.DataFrame | pa.Table | pa.RecordBatch | pa.Schema) -> None:
        """Check the policy against a table or schema: every column present, every rule fits."""
        schema = schema_of(data)
        present = set(schema.names)
        for name in self.required_columns:
            if name not in present:
                raise PolicyError(name, "named by the policy but missing from the data")
        for column in self.columns:
            if column.rule is None:
                continue
            dtype = schema.field(column.name).type
            if not column.rule.accepts_kind(kind_of(dtype)):
                kinds = " or ".join(sorted(column.rule.kinds))
                raise PolicyError(
                    column.name, f"rule {column.rule.name!r} needs a {kinds} column, got {dtype}"
                )


def _k(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise PolicyError(None, f"'k' must be an integer >= 1 and <= {MAX_K}, got {value!r}")
    return value


def _l_diversity(value: Any) -> LDiversity | None:
    if value is None:
        return None
    ok = isinstance(value, Mapping) and set(value) == {"column", "l"}
    if not ok or not isinstance(value["column"], str):
        raise PolicyError(None, "'l_diversity' must be {'column': name, 'l': integer >= 1}")
    level = value["l"]
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_L:
        raise PolicyError(
            value["column"],
            f"'l' of l_diversity must be an integer >= 1 and <= {MAX_L}, got {level!r}",
        )
    return LDiversity(value["column"], level)


def _is_pseudonym(column: ColumnPolicy) -> bool:
    return column.rule is not None and column.rule.name in _PSEUDONYM_RULES


def _is_private_noise(column: ColumnPolicy) -> bool:
    rule = column.rule
    return rule is not None and rule.name == "noise" and rule.epsilon <= MAX_RECORD_EPSILON  # type: ignore[attr-defined]


def _privacy_unit(value: Any) -> PrivacyUnit | None:
    if value is None:
        return None
    ok = isinstance(value, Mapping) and "column" in value and set(value) <= {"column", "max_rows"}
    if not ok or not isinstance(value["column"], str) or not value["column"]:
        raise PolicyError(
            None, "'privacy_unit' must be {'column': name} with an optional 'max_rows' integer"
        )
    rows = value.get("max_rows")
    bad = isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_UNIT_ROWS
    if rows is not None and bad:
        raise PolicyError(
            value["column"],
            f"'max_rows' of privacy_unit must be an integer >= 1 and "
            f"<= {MAX_UNIT_ROWS}, got {rows!r}",
        )
    return PrivacyUnit(value["column"], rows)


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise PolicyError(None, f"'{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _max_suppression(value: Any) -> float:
    if value is None:
        return DEFAULT_MAX_SUPPRESSION
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise PolicyError(None, f"'max_suppression' must be a fraction in [0, 1), got {value!r}")
    return float(value)


def schema_of(data: pd.DataFrame | pa.Table | pa.RecordBatch | pa.Schema) -> pa.Schema:
    """The Arrow schema of a DataFrame, Arrow table or batch, or a schema itself."""
    if isinstance(data, pa.Schema):
        return data
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.schema
    if isinstance(data, pd.DataFrame):
        try:
            return pa.Schema.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Arrow's message quotes the offending value; name only the column.
            raise DataError(f"column {_unconvertible(data)!r}: values of mixed types") from None
    raise TypeError(f"expected a DataFrame, Arrow table or schema, got {type(data).__name__}")


def _unconvertible(frame: pd.DataFrame) -> str:
    for name in frame.columns:
        try:
            pa.Schema.from_pandas(frame[[name]], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return str(name)
    return "?"


def as_policy(policy: Policy | Mapping[str, Any]) -> Policy:
    """Accept a Policy or its dict form wherever a policy is taken."""
    return policy if isinstance(policy, Policy) else Policy.from_dict(policy)
