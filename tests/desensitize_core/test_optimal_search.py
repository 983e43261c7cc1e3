"""The optimal level search against exhaustive enumeration of the lattice.

On several hundred random tables with small lattices, every level vector is tried with
plain pandas (class sizes, l-diversity, suppression and each quality model computed
here, not with the engine); the search must return a node of least cost, with the same
cost. The optimum's cost must also never improve when k or l rises."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from desensitize import Keyring, Policy, apply
from desensitize.engine import L_VALUE, Desensitizer
from desensitize.errors import KAnonymityError
from desensitize.kanon import COUNT, choose_levels
from desensitize.policy import QUALITY_MODELS

KEYS = Keyring(b"optimal-search-test-key-01234567")
CASES = 240


def _hierarchy(rng: np.random.Generator, values: list[str], depth: int) -> list[dict[str, str]]:
    """Random nested groupings of `values`, `depth` levels deep (then '*')."""
    maps, current = [], values
    for level in range(depth):
        groups = max(1, len(current) // int(rng.integers(2, 4)))
        parent = {v: f"g{level}_{int(rng.integers(0, groups))}" for v in current}
        maps.append(parent)
        current = sorted(set(parent.values()))
    return maps


def _case(seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(30, 260))
    columns: dict[str, dict] = {}
    data = {}
    for i in range(int(rng.integers(2, 5))):
        values = [f"v{i}_{j}" for j in range(int(rng.integers(2, 9)))]
        skew = rng.dirichlet(np.ones(len(values)) * 0.7)
        data[f"q{i}"] = rng.choice(values, rows, p=skew)
        columns[f"q{i}"] = {
            "class": "quasi_identifier",
            "rule": "generalize",
            "hierarchy": _hierarchy(rng, values, int(rng.integers(1, 3))),
        }
    data["s"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.55, 0.25, 0.15, 0.05])
    columns["s"] = {"class": "drop"}
    policy: dict = {
        "k": int(rng.integers(2, 7)),
        "max_suppression": float(rng.choice([0.0, 0.02, 0.1])),
        "columns": columns,
    }
    if rng.random() < 0.35:
        _with_l(policy, int(rng.integers(2, 4)))
    return pd.DataFrame(data), policy


def _with_l(policy: dict, l: int) -> dict:  # noqa: E741
    policy["l_diversity"] = {"column": "s", "l": l}
    policy["columns"] = {**policy["columns"], "s": {"class": "sensitive", "rule": "keep"}}
    return policy


def _counts(frame: pd.DataFrame, policy: Policy) -> tuple[pa.Table, Desensitizer]:
    engine = Desensitizer(policy, KEYS)
    engine.survey(pa.Table.from_pandas(frame, preserve_index=False), 0)
    return engine._combos.table(encoded=True), engine


def _reference(counts: pa.Table, engine: Desensitizer, k: int, l: int, limit: float):  # noqa: E741
    """Every passing level vector and its costs, over the combination counts: values
    rendered by each ladder, classes numbered with numpy, costs from their definitions."""
    frame = counts.to_pandas()
    weights = frame[COUNT].to_numpy().astype(np.float64)
    rows = int(weights.sum())
    budget = math.floor(limit * rows)
    sensitive = pd.factorize(frame[L_VALUE].astype(str))[0] if L_VALUE in frame else None
    # per column and level: each combination's generalized code, its loss and entropy
    # when kept, and its costs when suppressed
    columns = []
    for qi in engine.qis:
        base = frame[qi.name].astype(str).to_numpy()
        base_code, base_values = pd.factorize(base)
        value_rows = np.bincount(base_code, weights=weights)[base_code]
        per_level = []
        for at in range(qi.ladder.top + 1):
            out = qi.ladder.at(pa.array(base), at).to_pandas().astype(str).to_numpy()
            code = pd.factorize(out)[0]
            pairs = np.unique(np.stack([code, base_code]), axis=1)
            merged = np.bincount(pairs[0], minlength=code.max() + 1)[code]
            loss = (merged - 1) / max(len(base_values) - 1, 1)
            group_rows = np.bincount(code, weights=weights)[code]
            per_level.append((code, loss, -np.log2(value_rows / group_rows)))
        columns.append((per_level, -np.log2(value_rows / rows)))
    results = []
    for levels in itertools.product(*[range(qi.ladder.top + 1) for qi in engine.qis]):
        codes = [columns[i][0][at][0] for i, at in enumerate(levels)]
        _, cls = np.unique(np.stack(codes), axis=1, return_inverse=True)
        cls = cls.ravel()
        sizes = np.bincount(cls, weights=weights)
        failing = sizes < k
        if sensitive is not None and l > 1:
            pairs = np.unique(np.stack([cls, sensitive]), axis=1)
            failing |= np.bincount(pairs[0], minlength=len(sizes)) < l
        dropped = failing[cls]
        suppressed = int(weights[dropped].sum())
        if suppressed > budget:
            continue
        kept_sizes = sizes[~failing]
        cells = entropy = 0.0
        for (per_level, dropped_entropy), at in zip(columns, levels, strict=True):
            _, loss, kept_entropy = per_level[at]
            cells += float(np.sum(np.where(dropped, 1.0, loss) * weights))
            entropy += float(np.sum(np.where(dropped, dropped_entropy, kept_entropy) * weights))
        cost = {
            "loss": cells / (rows * len(levels)),
            "entropy": entropy,
            "discernibility": float(np.sum(kept_sizes**2)) + suppressed * rows,
            "aecs": rows / (len(kept_sizes) + (1 if suppressed else 0)),
        }
        results.append((list(levels), cost))
    return results


def _search(counts: pa.Table, engine: Desensitizer, policy: Policy, quality: str):
    return choose_levels(
        counts,
        engine.qis,
        k=policy.k,
        l_column=L_VALUE if policy.l_diversity else None,
        l=policy.l_diversity.l if policy.l_diversity else 1,
        max_suppression=policy.max_suppression,
        search="optimal",
        quality=quality,
    )


def test_the_optimal_search_finds_the_exhaustive_optimum_for_every_quality_model() -> None:
    compared = unreachable = 0
    for seed in range(CASES):
        frame, spec = _case(seed)
        policy = Policy.from_dict(spec)
        counts, engine = _counts(frame, policy)
        l = policy.l_diversity.l if policy.l_diversity else 1  # noqa: E741
        reference = _reference(counts, engine, policy.k, l, policy.max_suppression)
        for quality in QUALITY_MODELS:
            if not reference:
                with pytest.raises(KAnonymityError):
                    _search(counts, engine, policy, quality)
                unreachable += 1
                continue
            best = min(cost[quality] for _, cost in reference)
            optimal = [
                lv for lv, cost in reference if math.isclose(cost[quality], best, rel_tol=1e-9)
            ]
            plan = _search(counts, engine, policy, quality)
            chosen = [plan.levels[qi.name] for qi in engine.qis]
            assert chosen in optimal, (seed, quality, chosen, optimal)
            assert math.isclose(plan.cost, best, rel_tol=1e-9, abs_tol=1e-12), (seed, quality)
            compared += 1
    assert compared > 3 * CASES  # most cases have a passing node


@pytest.mark.parametrize("quality", QUALITY_MODELS)
def test_the_optimum_never_improves_when_k_or_l_rises(quality: str) -> None:
    for seed in range(40):
        frame, spec = _case(1000 + seed)
        spec.pop("l_diversity", None)
        spec["columns"]["s"] = {"class": "drop"}
        last = -math.inf
        for k, l in [(2, 1), (3, 1), (3, 2), (5, 2), (5, 3)]:  # noqa: E741
            trial = {**spec, "k": k}
            if l > 1:
                trial = _with_l(trial, l)
            policy = Policy.from_dict(trial)
            counts, engine = _counts(frame, policy)
            try:
                cost = _search(counts, engine, policy, quality).cost
            except KAnonymityError:
                cost = math.inf
            assert cost >= last - 1e-9 * abs(last if math.isfinite(last) else 1), (seed, k, l)
            last = cost


def test_a_policy_picks_its_quality_model_and_the_report_says_which_search_ran() -> None:
    frame, spec = _case(7)
    spec.pop("l_diversity", None)
    spec["columns"]["s"] = {"class": "drop"}
    for quality in QUALITY_MODELS:
        result = apply(frame, {**spec, "quality": quality}, KEYS)
        report = result.report.k_anonymity
        assert report["search"] == "optimal" and report["quality"] == quality
        assert report["nodes_checked"] >= 1 and report["cost"] is not None
    greedy = apply(frame, {**spec, "search": "greedy"}, KEYS).report.k_anonymity
    assert greedy["search"] == "greedy" and greedy["quality"] is None
    with pytest.raises(Exception, match="quality"):
        Policy.from_dict({**spec, "quality": "best"})
