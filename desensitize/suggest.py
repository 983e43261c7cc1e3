"""The suggested policy, planned: which columns to release so the demographics stay fine.

A profile proposes a rule per column from its kind alone (`Profile.suggested_policy`).
Every released column counts in the release gate, so a minor column kept raw (a
household size, a small category) can push the columns a buyer wants most, birth dates
(or ages), the region and the gender, to coarser levels, or to '*'. Here the gate's
search is run on the profiled sample: when leaving out minor columns lets those *core*
columns be kept finer, the minor columns that stand in the way are dropped (largest
first, each with its reason), so the core columns end at the finest levels that pass.
The plan's levels, suppression and information loss are reported with the policy.

The sample stands for the whole table: its classes are smaller by the sampling
fraction, so the plan asks each class for k times that fraction of rows, but at least
two when the sample is a part of the table (one row seen says little about the class
it stands for: this errs on the coarse side), and the report says it is an estimate
from a sample when it is one.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from desensitize.combos import COUNT
from desensitize.engine import L_VALUE, UNIT, Desensitizer
from desensitize.errors import DesensitizeError
from desensitize.keys import Keyring
from desensitize.lattice import measure
from desensitize.policy import Policy
from desensitize.profile import Profile

__all__ = ["Suggestion", "core_columns", "suggest"]

GENDER_HINTS = ("gender", "sex", "xingbie", "性别")
REGION_HINTS = (
    *("district", "county", "region", "province", "city", "zone", "area", "street"),
    *("quxian", "diqu", "jiedao", "行政区", "区县", "地区", "区域", "街道", "城市", "省份"),
)
_PSEUDONYMS = frozenset({"token", "fake"})


@dataclass(frozen=True)
class Suggestion:
    """A policy to start from, the gate's plan for it on the sample, and what was left out."""

    policy: dict[str, Any]
    utility: dict[str, Any]
    dropped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "utility": self.utility, "dropped": self.dropped}


def core_columns(found: Profile) -> list[str]:
    """Birth dates and ages, gender and region columns released as quasi-identifiers."""
    core = []
    for column in found.columns:
        rule = column.suggestion
        if rule.get("class") != "quasi_identifier":
            continue
        name = column.name.lower()
        birth = column.kind in ("date", "datetime") and rule.get("to") == "year"
        named = column.kind == "category" and (
            any(h in name for h in GENDER_HINTS) or any(h in name for h in REGION_HINTS)
        )
        if birth or column.kind == "age" or named:
            core.append(column.name)
    return core


def suggest(found: Profile, sample: pd.DataFrame, *, rows: int, k: int = 5) -> Suggestion:
    """The profile's suggested policy for a table of `rows` rows of which `sample` was
    profiled, with the minor columns left out that keep the core columns coarser."""
    policy = found.suggested_policy(k=k)
    core = core_columns(found)
    minor = sorted(
        (c for c in found.columns if _minor(c.suggestion) and c.name not in core),
        key=lambda c: (-c.distinct, c.name),
    )
    planner = _Planner(policy, sample, rows)
    plan = planner.plan(policy)
    dropped: list[dict[str, str]] = []
    if core and minor and plan is not None:
        target = planner.plan(_without(policy, [c.name for c in minor]))
        if target is not None and _coarser(plan, target, core):
            for column in minor:
                policy = _without(policy, [column.name])
                dropped.append(
                    {
                        "column": column.name,
                        "reason": "released with the other columns it would push "
                        f"{', '.join(core)} to coarser levels",
                    }
                )
                plan = planner.plan(policy)
                if plan is None or not _coarser(plan, target, core):
                    break
    return Suggestion(policy, _utility(plan, len(sample), rows, k), dropped)


class _Planner:
    """The release gate's plan of a policy and of the same policy with columns dropped,
    from one survey of the sample (a dropped column only merges combinations)."""

    def __init__(self, policy: dict[str, Any], sample: pd.DataFrame, rows: int) -> None:
        fraction = len(sample) / max(rows, len(sample), 1)
        self.k = max(math.ceil(policy["k"] * fraction), 1 if fraction == 1 else 2)
        self.keys = Keyring(os.urandom(32))  # the plan's outputs are never shown
        self.survey: tuple[pa.Table | None, dict[str, pa.Array]] | None = None
        try:
            first = Policy.from_dict(self._planned(policy))
            frame = sample[[n for n in first.required_columns if n in sample.columns]]
            table = pa.Table.from_pandas(frame, preserve_index=False)
            first.validate_for(table.schema)
            with Desensitizer(first, self.keys) as engine:
                engine.survey(table, 0)
                self.survey = engine.surveyed()
        except (DesensitizeError, pa.ArrowException):
            self.survey = None  # the provider sees why when setting the policy

    def _planned(self, policy: dict[str, Any]) -> dict[str, Any]:
        planned = copy.deepcopy(policy)
        planned["k"] = self.k
        # Pseudonyms do not count in the gate: leaving them out only saves their keyed work.
        for name, spec in planned["columns"].items():
            if spec.get("rule") in _PSEUDONYMS:
                planned["columns"][name] = {"class": "drop"}
        return planned

    def plan(self, policy: dict[str, Any]) -> dict[str, Any] | None:
        """The gate's plan on the sample, or None if nothing passes."""
        if self.survey is None:
            return None
        counts, fits = self.survey
        with Desensitizer(Policy.from_dict(self._planned(policy)), self.keys) as engine:
            merged = _merged(counts, engine.qi_names)
            engine.use_survey(merged, fits)
            try:
                engine.prepare()
            except DesensitizeError:
                return None
            plan = engine.plan
            if plan is None or merged is None:  # nothing to protect: columns as the rules give
                return {"k": self.k, "levels": {}, "rows_suppressed": 0, "rows": 0}
            # Every quality model's figure for the chosen levels, as the search scores them.
            measures = measure(
                merged,
                engine.qis,
                [plan.levels[qi.name] for qi in engine.qis],
                k=engine.k,
                l_column=L_VALUE if engine.l_column else None,
                l=engine.l,
                unit_column=UNIT if engine.unit else None,
                linked=engine.linked,
            )
        return {**plan.to_dict(), "rows": plan.rows, "measures": measures}


def _merged(counts: pa.Table | None, columns: list[str]) -> pa.Table | None:
    """The counts over fewer columns: the gate takes each row of its counts to be a
    combination of its own."""
    if counts is None:
        return None
    kept = [c for c in counts.column_names if c in columns or c in (L_VALUE, UNIT)]
    summed = counts.group_by(kept).aggregate([(COUNT, "sum")])
    return summed.rename_columns([*kept, COUNT])


def _minor(rule: dict[str, Any]) -> bool:
    """A column kept raw in the release: the gate can only keep it or blank it."""
    return rule.get("class") in ("quasi_identifier", "attribute") and rule.get("rule") == "keep"


def _without(policy: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(policy)
    for name in names:
        out["columns"][name] = {"class": "drop"}
    return out


def _coarser(plan: dict, target: dict, core: list[str]) -> bool:
    """True if some core column sits above the level it reaches without the minor ones."""
    levels, best = plan.get("levels", {}), target.get("levels", {})
    return any(
        name in levels and name in best and levels[name]["level"] > best[name]["level"]
        for name in core
    )


def _utility(plan: dict | None, sampled: int, rows: int, k: int) -> dict[str, Any]:
    base = {"rows": rows, "planned_on_rows": sampled, "estimate": sampled < rows, "k": k}
    if plan is None:
        return {**base, "passes": False}
    suppressed = plan.get("rows_suppressed", 0)
    return {
        **base,
        "passes": True,
        "k_on_sample": plan.get("k"),
        "levels": {n: v["generalization"] for n, v in plan.get("levels", {}).items()},
        "suppressed_share": suppressed / max(plan.get("rows") or sampled, 1),
        "quality": plan.get("quality"),
        "cost": plan.get("cost"),
        "information_loss": plan.get("information_loss"),
        # loss, entropy, discernibility and average class size of the chosen levels
        "measures": plan.get("measures", {}),
    }
