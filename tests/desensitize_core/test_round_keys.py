"""The greedy search's shortcuts: a step chosen without counting while every row fails,
and candidate
keys narrow, unsigned or wide, sorted or tabled.

Each round's keys only save work: a candidate step must find the classes and violating
rows that numbering the classes afresh (`_evaluate`) finds, whatever the keys' type
(an unsigned key adds a negative move modulo 2**32) and whether rows per class are
counted by sorting or in a table."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from desensitize import Keyring, Policy, kanon
from desensitize.engine import Desensitizer
from desensitize.kanon import COUNT, _evaluate, _Levels, _Model, _RoundKeys, choose_levels

KEYS = Keyring(b"round-keys-test-key-0123456789ab")


def _engine(seed: int, search: str = "auto") -> Desensitizer:
    """An engine that has surveyed 600 rows of four columns of random widths."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {f"q{i}": rng.integers(0, int(rng.integers(2, 60)), 600) * 1.0 for i in range(4)}
    )
    columns = {n: {"class": "quasi_identifier", "rule": "generalize", "width": 1} for n in frame}
    policy = Policy.from_dict(
        {"k": 3, "max_suppression": 0.05, "search": search, "columns": columns}
    )
    engine = Desensitizer(policy, KEYS)
    engine.survey(pa.Table.from_pandas(frame, preserve_index=False), 0)
    return engine


def _mixed_levels(seed: int) -> tuple[list[_Levels], _Model]:
    rng = np.random.default_rng(seed)
    rows = 3000
    frame = pd.DataFrame(
        {
            "age": rng.integers(0, 100, rows) * 1.0,
            "zone": rng.integers(0, 30, rows).astype(str),
            "kind": rng.integers(0, 20, rows).astype(str),
        }
    )
    columns = {
        "age": {"class": "quasi_identifier", "rule": "generalize", "width": 1},
        "zone": {"class": "quasi_identifier", "rule": "keep"},
        "kind": {"class": "quasi_identifier", "rule": "keep"},
    }
    policy = Policy.from_dict({"k": 3, "max_suppression": 0.05, "columns": columns})
    engine = Desensitizer(policy, KEYS)
    engine.survey(pa.Table.from_pandas(frame, preserve_index=False), 0)
    counts = engine._combos.table(encoded=True)
    levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in engine.qis]
    return levels, _Model(counts[COUNT].to_numpy().astype(np.int64), None, None, False, 3, 1)


def _levels(seed: int) -> tuple[list[_Levels], _Model]:
    engine = _engine(seed)
    counts = engine._combos.table(encoded=True)
    levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in engine.qis]
    return levels, _Model(counts[COUNT].to_numpy().astype(np.int64), None, None, False, 3, 1)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64])
@pytest.mark.parametrize("dense", [0, 10**6])
def test_every_candidate_step_counts_what_numbered_classes_count(dtype, dense, monkeypatch):
    monkeypatch.setattr(kanon, "_key_type", lambda place: dtype)
    monkeypatch.setattr(kanon, "DENSE_ROUND", dense)
    for seed in range(8):
        levels, model = _levels(seed)
        rng = np.random.default_rng(seed)
        for _ in range(6):
            chosen = [int(rng.integers(0, len(lv.maps) - 1)) for lv in levels]
            keys = _RoundKeys(levels, chosen, model)
            assert keys.key.dtype == dtype
            for column, lv in enumerate(levels):
                step = lv.next_level(chosen[column])
                if step is None:
                    continue
                trial = [*chosen[:column], step, *chosen[column + 1 :]]
                got, want = keys.outcome(column, step), _evaluate(levels, trial, model)
                assert (got.classes, got.violating) == (want.classes, want.violating)
                assert got.smallest == want.smallest


def test_keys_take_the_narrowest_type_the_round_allows():
    assert kanon._key_type(2**31) is np.int32
    assert kanon._key_type(2**31 + 1) is np.uint32
    assert kanon._key_type(2**32 + 1) is np.int64
    assert kanon._key_type(2**63 + 1) is None


def test_the_plan_does_not_depend_on_how_candidates_are_counted(monkeypatch):
    for seed in range(4):
        plans = set()
        for dtype, dense in ((np.int64, 0), (np.uint32, 10**6), (np.int32, 0)):
            monkeypatch.setattr(kanon, "_key_type", lambda place, d=dtype: d)
            monkeypatch.setattr(kanon, "DENSE_ROUND", dense)
            engine = _engine(seed, search="greedy")
            plan = choose_levels(
                engine._combos.table(encoded=True),
                engine.qis,
                k=3,
                max_suppression=0.05,
                search="greedy",
            )
            plans.add((tuple(plan.levels.items()), plan.rows_suppressed))
        assert len(plans) == 1


def test_while_every_row_fails_the_step_is_chosen_without_counting(monkeypatch):
    """Each column alone passes, every row is unique over both. Raising `day` one level
    halves its 800 values; raising `slot` turns 5 values into 3. So `day` steps first, and
    no round counts candidates until some row passes."""
    rows = 4000
    frame = pd.DataFrame({"day": np.arange(rows) // 5 * 1.0, "slot": np.arange(rows) % 5 * 1.0})
    columns = {n: {"class": "quasi_identifier", "rule": "generalize", "width": 1} for n in frame}
    policy = Policy.from_dict(
        {"k": 5, "max_suppression": 0.02, "search": "greedy", "columns": columns}
    )
    engine = Desensitizer(policy, KEYS)
    engine.survey(pa.Table.from_pandas(frame, preserve_index=False), 0)
    counted, uncounted = [], []
    best_step, dividing_step = kanon._best_step, kanon._dividing_step

    def spy_best(levels, chosen, current, model, pool):
        counted.append(current.violating)
        return best_step(levels, chosen, current, model, pool)

    def spy_dividing(levels, chosen, estimate):
        step = dividing_step(levels, chosen, estimate)
        uncounted.append((list(chosen), step[0]))
        return step

    monkeypatch.setattr(kanon, "_best_step", spy_best)
    monkeypatch.setattr(kanon, "_dividing_step", spy_dividing)
    combos = engine._combos.table(encoded=True)
    plan = choose_levels(combos, engine.qis, k=5, max_suppression=0.02, search="greedy")
    assert [qi.name for qi in engine.qis] == ["day", "slot"]
    assert uncounted[0] == ([0, 0], [1, 0])  # `day` stepped first, uncounted
    assert all(violating < rows for violating in counted)
    assert plan.rows_suppressed <= 0.02 * rows


@pytest.mark.parametrize("dense", [0, 10**6])
def test_merging_into_a_steps_counted_classes_is_merging_by_sorting(dense, monkeypatch):
    """The classes a candidate step counted merge the combinations as a fresh sort does:
    the same classes, each with the same rows."""
    monkeypatch.setattr(kanon, "DENSE_ROUND", dense)
    for seed in range(8):
        levels, model = _levels(seed)
        chosen = [0] * len(levels)
        column = next(i for i, lv in enumerate(levels) if lv.next_level(0) is not None)
        step = levels[column].next_level(0)
        trial = [*chosen[:column], step, *chosen[column + 1 :]]
        outcome = _RoundKeys(levels, chosen, model).outcome(column, step)
        merged = []
        for given in (outcome, None):
            copies = [copy.copy(lv) for lv in levels]
            into = copy.copy(model)
            monkeypatch.setattr(kanon, "COMPRESS_BELOW", 1.0)  # merge however few
            assert into.compress(copies, trial, given)
            codes = np.stack([lv.codes(at) for lv, at in zip(copies, trial, strict=True)])
            rows = into.weights.tolist()
            merged.append(sorted(zip(map(tuple, codes.T.tolist()), rows, strict=True)))
        assert merged[0] == merged[1]
        assert len(merged[0]) == outcome.classes


def test_the_best_step_skips_only_steps_that_cannot_win(monkeypatch):
    """Every step counted, the best is the same step as the one the search picks while it
    skips steps whose loss keeps them below a gain already found; and it does skip some."""
    counted = []
    outcome = _RoundKeys.outcome

    def counting(self, column=None, level=None):
        counted.append(column)
        return outcome(self, column, level)

    monkeypatch.setattr(_RoundKeys, "outcome", counting)
    skipped = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for seed in range(12):
            # Tall ladders (numbers) beside one-step ones (kept text): steps of very
            # different losses, as in a release of generalized dates beside kept codes.
            levels, model = _levels(seed) if seed % 2 else _mixed_levels(seed)
            rng = np.random.default_rng(seed)
            for _ in range(5):
                chosen = [int(rng.integers(0, len(lv.maps) - 1)) for lv in levels]
                current = _evaluate(levels, chosen, model)
                ranked = []
                for i, lv in enumerate(levels):
                    step = lv.next_level(chosen[i])
                    if step is None:
                        continue
                    trial = [*chosen[:i], step, *chosen[i + 1 :]]
                    loss = (step - chosen[i]) / lv.qi.ladder.top
                    found = _evaluate(levels, trial, model)
                    gain = (current.violating - found.violating) / loss
                    ranked.append(((-gain, found.classes, loss, i), trial))
                counted.clear()
                picked = kanon._best_step(levels, chosen, current, model, pool)
                if not ranked:
                    assert picked is None
                    continue
                assert picked[0] == min(ranked)[1]
                skipped += len(ranked) - len(counted)
    assert skipped > 0
