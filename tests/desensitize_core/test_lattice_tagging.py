"""The optimal search's shortcuts: pass tests by block lookups, and tagging along paths.

Both only save work: the block keys must count the same violating rows as the engine's
own estimate, and a search that settles nodes by tagging must still reach the optimum
(test_optimal_search.py compares it with exhaustive enumeration) while testing a small
part of a lattice of several thousand nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from desensitize import Keyring, Policy
from desensitize import class_keys as keys_module
from desensitize.class_keys import ClassKeys
from desensitize.engine import Desensitizer
from desensitize.kanon import COUNT, _estimate, _Levels, _Model, choose_levels
from desensitize.lattice import QUALITY_MODELS, _Costs, node_cost, steps

KEYS = Keyring(b"lattice-tagging-test-key-0123456")


def _frame(seed: int, rows: int, columns: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {f"q{i}": rng.integers(0, int(rng.integers(2, 40)), rows) * 1.0 for i in range(columns)}
    )


def _policy(frame: pd.DataFrame, k: int, limit: float) -> Policy:
    columns = {
        name: {"class": "quasi_identifier", "rule": "generalize", "width": 1} for name in frame
    }
    return Policy.from_dict(
        {"k": k, "max_suppression": limit, "search": "optimal", "columns": columns}
    )


def _counts(frame: pd.DataFrame, policy: Policy) -> tuple[pa.Table, Desensitizer]:
    engine = Desensitizer(policy, KEYS)
    engine.survey(pa.Table.from_pandas(frame, preserve_index=False), 0)
    return engine._combos.table(encoded=True), engine


@pytest.mark.parametrize(
    ("cells", "dense"), [(1, 0), (64, 10**9), (keys_module.BLOCK_CELLS, keys_module.DENSE)]
)
def test_block_keys_count_the_violating_rows_the_engine_counts(
    cells: int, dense: int, monkeypatch
) -> None:
    """By blocks of every size, by sorting (dense 0) and by a table of classes."""
    monkeypatch.setattr(keys_module, "BLOCK_CELLS", cells)
    monkeypatch.setattr(keys_module, "DENSE", dense)
    for seed in range(12):
        frame = _frame(seed, 400, 4)
        policy = _policy(frame, k=3, limit=0.05)
        counts, engine = _counts(frame, policy)
        levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in engine.qis]
        weights = counts[COUNT].to_numpy().astype(np.int64)
        model = _Model(weights, None, None, False, 3, 1)
        keys = ClassKeys(levels, model)
        assert keys.usable
        rng = np.random.default_rng(seed)
        for _ in range(10):
            chosen = [int(rng.choice(chain)) for chain in steps(levels)]
            assert keys.violating(chosen) == _estimate(levels, chosen, model).violating


def test_tagging_tests_a_small_part_of_a_large_lattice() -> None:
    frame = _frame(5, 3000, 6)
    policy = _policy(frame, k=5, limit=0.02)
    counts, engine = _counts(frame, policy)
    levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in engine.qis]
    nodes = int(np.prod([len(chain) for chain in steps(levels)]))
    plan = choose_levels(
        counts, engine.qis, k=5, max_suppression=0.02, search="optimal", quality="loss"
    )
    assert nodes > 2000
    assert plan.nodes_checked is not None and plan.nodes_checked < nodes / 10


@pytest.mark.parametrize("dense", [0, 10**9])
def test_costs_from_class_keys_equal_those_from_class_ids(dense: int, monkeypatch) -> None:
    monkeypatch.setattr(keys_module, "DENSE", dense)
    for seed in range(8):
        frame = _frame(100 + seed, 500, 4)
        counts, engine = _counts(frame, _policy(frame, k=4, limit=0.1))
        levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in engine.qis]
        model = _Model(counts[COUNT].to_numpy().astype(np.int64), None, None, False, 4, 1)
        keys = ClassKeys(levels, model)
        rng = np.random.default_rng(seed)
        for quality in QUALITY_MODELS:
            costs = _Costs(levels, model, quality) if quality in ("loss", "entropy") else None
            for _ in range(6):
                chosen = [int(rng.choice(chain)) for chain in steps(levels)]
                expected = node_cost(levels, chosen, model, quality, costs)[1]
                assert keys.cost(chosen, quality, costs) == pytest.approx(expected, rel=1e-12)
