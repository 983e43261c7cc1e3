"""k-anonymity and l-diversity over the released columns: choose levels, suppress, verify.

The search never needs the rows. It works on a table of *combinations*: each
distinct tuple of level-0 values of the counted columns (plus the l-diversity value
and, with a privacy unit, the person), with how many rows have it. The streaming
engine builds that table batch by batch in its first pass; in memory it is built in
one go, so both choose the same levels. Each ladder renders every level from level-0
values, so a level vector maps combinations to equivalence classes without the rows.

The search starts where each column *alone* first passes (no level below can pass
with the others added), then, while more rows sit in classes smaller than k (or
less diverse than l, or, per person, shared by fewer than k persons: see units.py)
than `max_suppression` allows, raises one column one level: the step removing the
most violating rows per unit of precision lost (a level costs 1/height of its
ladder), or, when no step removes any, the one merging the most classes. While every
row still fails, the step is the one that divides its column's distinct values the
most, the merge that counting classes would most likely find: counting each candidate
costs a sort of every combination, and far from k it mostly finds nothing passing.
Combinations equal at the current levels are merged as it goes, since higher levels
never split them. The remaining violating classes (or persons) are suppressed, and
the output is checked independently by grouping its own values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.combos import (
    COUNT,
    ClassEncoder,
    ComboCounts,
    StableCodes,
    class_ids,
    codes_of,
    index_type,
    sorted_classes,
    whole,
)
from desensitize.errors import DataError, KAnonymityError
from desensitize.policy import SEARCHES
from desensitize.rules.base import Ladder
from desensitize.units import persons_per_class, signature_groups

__all__ = [
    "COUNT",
    "ClassEncoder",
    "ComboCounts",
    "KPlan",
    "QuasiIdentifier",
    "StableCodes",
    "choose_levels",
    "class_ids",
    "codes_of",
    "verify",
]

SEARCH_THREADS = 2
# Under "auto", the optimal search runs up to this many combinations (after merging those
# no passing node can tell apart); above it each node costs too much and the greedy runs.
OPTIMAL_COMBINATIONS = 100_000
# Above this many combinations candidates are evaluated one at a time: each evaluation
# holds a few arrays of that length, and two at once would double the peak.
THREADED_COMBINATIONS = 1_000_000
# Combinations are merged only when that leaves at most this share of them: fewer merges
# do not pay for the copies.
COMPRESS_BELOW = 0.8
# A round's candidates count rows per class in a table, instead of sorting, when the
# class keys' space is at most this many times the combinations.
DENSE_ROUND = 2


@dataclass(frozen=True)
class QuasiIdentifier:
    name: str
    ladder: Ladder


@dataclass
class _Levels:
    """Per quasi-identifier: each combination's base value (`position`), and per level the
    code of each base value. A level's codes are gathered when asked: holding every level
    for millions of combinations would cost more memory than the rest of the search."""

    qi: QuasiIdentifier
    distinct: pa.Array
    position: np.ndarray
    maps: list[np.ndarray] = field(default_factory=list)
    values: list[pa.Array] = field(default_factory=list)

    def codes(self, level: int) -> np.ndarray:
        return self.maps[level][self.position]

    def representatives(self, level: int) -> np.ndarray:
        """A base value for each code of `level` (any will do: higher levels are coarser
        than this one, so they render every base value of a code alike)."""
        rep = np.empty(self.cards[level], dtype=self.position.dtype)
        rep[self.maps[level]] = np.arange(len(self.maps[level]), dtype=rep.dtype)
        return rep

    @property
    def cards(self) -> list[int]:
        return [len(values) for values in self.values]

    @classmethod
    def build(cls, qi: QuasiIdentifier, column: pa.Array) -> _Levels:
        if pa.types.is_dictionary(column.type):  # its indices as they are: no copy
            position = column.indices.to_numpy(zero_copy_only=False)
            distinct = column.dictionary
        else:
            distinct = pc.unique(column)
            position = pc.index_in(column, value_set=distinct, skip_nulls=False).to_numpy()
        small = index_type(len(distinct))
        levels = cls(qi, distinct, position.astype(small, copy=False))
        for level in range(qi.ladder.top + 1):
            code, values = codes_of(qi.ladder.at(distinct, level))
            # int32 at least: codes gathered through a map are combined into wider keys
            levels.maps.append(code.astype(np.int32 if len(values) < 2**31 else np.int64))
            levels.values.append(values)
        return levels

    def next_level(self, level: int) -> int | None:
        """The next level that merges values (levels that change nothing are skipped)."""
        for higher in range(level + 1, len(self.cards)):
            if self.cards[higher] < self.cards[level]:
                return higher
        return None


@dataclass(frozen=True)
class KPlan:
    """The chosen levels and which equivalence classes to suppress."""

    k: int
    l: int  # noqa: E741
    levels: dict[str, int]
    labels: dict[str, str]
    heights: dict[str, int]
    rows: int
    rows_suppressed: int
    information_loss: float
    dictionaries: dict[str, pa.Array]
    encoder: ClassEncoder | None
    suppressed: np.ndarray
    # Per quasi-identifier, the chosen level's code of each value of the searched counts
    # (in the order of their dictionaries), for `suppress_codes`.
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    suppressed_units: pa.Array | None = None  # persons removed whole (linked model)
    model: str = "rows"
    search: str = "greedy"
    quality: str | None = None  # the optimal search's quality model, and its cost
    cost: float | None = None
    nodes_checked: int | None = None

    def suppress_mask(
        self, outputs: dict[str, pa.Array], units: pa.Array | None = None
    ) -> np.ndarray:
        """True for rows whose class (by their output values), or whose person, is
        suppressed."""
        if self.suppressed_units is not None:
            found = pc.is_in(units, value_set=self.suppressed_units, skip_nulls=False)
            return found.to_numpy(zero_copy_only=False)
        codes = []
        for name, dictionary in self.dictionaries.items():
            code = pc.index_in(outputs[name], value_set=dictionary, skip_nulls=False)
            if code.null_count:
                raise DataError(f"column {name!r}: the input changed between the two passes")
            codes.append(code.to_numpy().astype(np.int64))
        return self._suppressed_classes(codes, len(next(iter(outputs.values()), [])))

    def suppress_codes(self, codes: dict[str, np.ndarray]) -> np.ndarray:
        """`suppress_mask` for rows given by their codes in the searched counts."""
        at_level = [self.maps[name][codes[name]] for name in self.dictionaries]
        return self._suppressed_classes(at_level, len(next(iter(codes.values()), [])))

    def _suppressed_classes(self, at_level: list[np.ndarray], rows: int) -> np.ndarray:
        """True for rows (given by their codes at the chosen levels) of suppressed classes."""
        if not at_level or len(at_level[0]) == 0:
            return np.zeros(rows, dtype=bool)
        return self.suppressed[self.encoder.encode(at_level)]

    def to_dict(self) -> dict[str, Any]:
        levels = {
            name: {"level": at, "generalization": self.labels[name], "height": self.heights[name]}
            for name, at in self.levels.items()
        }
        return {
            "k": self.k,
            "l": self.l,
            "levels": levels,
            "rows_suppressed": self.rows_suppressed,
            "information_loss": self.information_loss,
            "counts": self.model,
            "search": self.search,
            "quality": self.quality,
            "cost": self.cost,
            "nodes_checked": self.nodes_checked,
        }


@dataclass(frozen=True)
class _Outcome:
    """Equivalence classes at one level vector: which classes (or, when a pseudonym links
    a person's rows, which persons) fail k or l, and how many rows that is."""

    classes: int
    failing: np.ndarray
    violating: int
    failing_persons: np.ndarray | None = None
    smallest: int = 0  # the smallest class (rows or persons) or signature group
    merged: _Merged | None = None  # the classes themselves, where they were counted


@dataclass(frozen=True)
class _Merged:
    """The classes a round's keys found at one level vector (rows model): each class's
    key and rows, and how to read each column's code back from a key. Merging the
    combinations into these classes then needs no sort of its own."""

    chosen: list[int]
    keys: np.ndarray
    rows: np.ndarray
    radix: list[int]  # per column, the place of its digit in a key
    bases: list[int]  # per column, the number its digit counts up to


@dataclass
class _Model:
    """What the search checks: rows per combination, the l-diversity value and person of
    each combination (codes), and k, l and the attacker model (see units.py)."""

    weights: np.ndarray
    lcodes: tuple[np.ndarray, int] | None
    ucodes: tuple[np.ndarray, int] | None
    linked: bool
    k: int
    l: int  # noqa: E741

    def compress(
        self, levels: list[_Levels], chosen: Sequence[int], outcome: _Outcome | None = None
    ) -> bool:
        """Merge combinations equal at the chosen levels: higher levels cannot tell them
        apart, so the rest of the search runs on fewer of them. An `outcome` at these
        levels that kept its classes gives them without sorting again."""
        found = outcome.merged if outcome is not None else None
        if found is None or found.chosen != list(chosen):
            keys = _RoundKeys(levels, chosen, self)  # the rows model's classes, sorted
            found = keys.outcome().merged if keys.usable else None
            if keys.usable and found is None:
                return False  # too few merges to pay for the copies
        if found is not None:
            self.weights = found.rows
            for lv, at, radix, base in zip(levels, chosen, found.radix, found.bases, strict=True):
                lv.position = lv.representatives(at)[(found.keys // radix) % base]
            return True
        codes, cards = _at(levels, chosen)
        for extra in (self.lcodes, self.ucodes):
            if extra is not None:
                codes.append(extra[0])
                cards.append(extra[1])
        if not codes:
            return False
        ids, merged = class_ids(codes, cards)
        if merged > COMPRESS_BELOW * len(ids):
            return False  # too few merges to pay for the copies
        # The first combination of each class, by a scatter instead of a sort.
        first = np.empty(merged, dtype=np.int64)
        first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
        self.weights = np.bincount(ids, weights=self.weights, minlength=merged).astype(np.int64)
        for lv in levels:
            lv.position = lv.position[first]
        if self.lcodes is not None:
            self.lcodes = (self.lcodes[0][first], self.lcodes[1])
        if self.ucodes is not None:
            self.ucodes = (self.ucodes[0][first], self.ucodes[1])
        return True


def _at(levels: list[_Levels], chosen: Sequence[int]) -> tuple[list, list[int]]:
    """Each column's codes at its chosen level, gathered only when `class_ids` reaches
    that column, and how many values each level has."""
    codes = [partial(lv.codes, c) for lv, c in zip(levels, chosen, strict=True)]
    return codes, [lv.cards[c] for lv, c in zip(levels, chosen, strict=True)]


def _diversity(groups: np.ndarray, lcodes: tuple[np.ndarray, int], n_groups: int) -> np.ndarray:
    codes, card = lcodes
    pairs = np.unique(groups.astype(np.int64) * card + codes)
    return np.bincount(pairs // card, minlength=n_groups)


class _RoundKeys:
    """The search's shortcut for the rows model: each combination's class key at the
    current levels, in a mixed radix over the current levels' value counts (a step up
    only merges codes, so a raised column's codes stay below them), with its rows in the
    low bits. A candidate step changes one column's digit, and sorting the keys gives
    rows per class: several times faster than the argsort that numbered class ids need,
    and the search asks only how many rows fail. Keys are as narrow as the round allows
    (a 32-bit sort is much faster), and a round whose classes fit a small table counts
    them there, without sorting."""

    def __init__(self, levels: list[_Levels], chosen: Sequence[int], model: _Model) -> None:
        self.levels, self.chosen, self.model = levels, list(chosen), model
        self.shift = max(int(model.weights.max()).bit_length(), 1)
        self.radix: list[int] = []
        place = 1 << self.shift
        for lv, at in zip(reversed(levels), reversed(self.chosen), strict=True):
            self.radix.insert(0, place)
            place *= lv.cards[at]
        self.cells = place >> self.shift  # the space of class keys
        self.dtype = _key_type(place)
        self.key = None
        if self.dtype is not None and levels and model.lcodes is None and model.ucodes is None:
            key = model.weights.astype(self.dtype)
            for lv, at, radix in zip(levels, self.chosen, self.radix, strict=True):
                key += self._digits(lv.maps[at].astype(np.int64) * radix)[lv.position]
            self.key = key

    def _digits(self, values: np.ndarray) -> np.ndarray:
        """Key parts (or moves, which may be negative) in the keys' type: unsigned keys
        add a negative move modulo 2**32, which lands on the right key."""
        return values.astype(self.dtype)

    @property
    def usable(self) -> bool:
        return self.key is not None

    def outcome(self, column: int | None = None, level: int | None = None) -> _Outcome:
        """Rows per class with column `column` raised to `level` (or as chosen)."""
        if column is None:
            key = self.key.copy()
        else:
            # How each base value's key moves, then one gather: cheaper than two codes.
            lv, was = self.levels[column], self.chosen[column]
            moves = lv.maps[level].astype(np.int64) - lv.maps[was]
            key = self._digits(moves * self.radix[column])[lv.position]
            key += self.key
        if self.cells <= DENSE_ROUND * len(key):
            rows = np.bincount(key >> self.shift, weights=key & ((1 << self.shift) - 1))
            keys = np.flatnonzero(rows)
            sizes = rows[keys].astype(np.int64)
        else:
            sizes, keys = sorted_classes(key, None, self.shift)
        chosen = list(self.chosen)
        if column is not None:
            chosen[column] = level
        merged = None
        if len(sizes) <= COMPRESS_BELOW * len(self.key):  # classes a merge would use
            merged = _Merged(
                chosen,
                keys,
                sizes,
                [radix >> self.shift for radix in self.radix],
                [lv.cards[at] for lv, at in zip(self.levels, self.chosen, strict=True)],
            )
        del keys
        failing = sizes < self.model.k
        smallest = int(sizes.min()) if len(sizes) else 0
        return _Outcome(
            len(sizes), failing, int(sizes[failing].sum()), smallest=smallest, merged=merged
        )


def _key_type(place: int) -> type[np.integer] | None:
    """The narrowest integer type holding keys below `place`, or None past 63 bits."""
    for dtype in (np.int32, np.uint32, np.int64):
        if place <= np.iinfo(dtype).max + 1:
            return dtype
    return None


def _as_counted(levels: list[_Levels], chosen: Sequence[int], model: _Model) -> _Outcome | None:
    """The outcome without sorting when every column is at a level that tells all its
    values apart: each combination (a row of counts over these columns alone) is then a
    class of its own (rows model only)."""
    if model.lcodes is not None or model.ucodes is not None:
        return None
    if any(lv.cards[at] != len(lv.distinct) for lv, at in zip(levels, chosen, strict=True)):
        return None
    rows = model.weights
    failing = rows < model.k
    smallest = int(rows.min()) if len(rows) else 0
    return _Outcome(len(rows), failing, int(rows[failing].sum()), smallest=smallest)


def _estimate(levels: list[_Levels], chosen: Sequence[int], model: _Model) -> _Outcome:
    """The outcome the search compares: class sizes by sorting where the model allows
    (see `_RoundKeys`); the chosen vector gets a full `_evaluate` at the end."""
    keys = _RoundKeys(levels, chosen, model)
    return keys.outcome() if keys.usable else _evaluate(levels, chosen, model)


def _evaluate(levels: list[_Levels], chosen: Sequence[int], model: _Model) -> _Outcome:
    return evaluate_classes(levels, chosen, model)[1]


def evaluate_classes(
    levels: list[_Levels], chosen: Sequence[int], model: _Model
) -> tuple[np.ndarray, _Outcome]:
    """Each combination's class id at `chosen` (numbered in sorted code order), and the
    outcome: which classes or persons fail, and how many rows that is."""
    if levels:
        ids, classes = class_ids(*_at(levels, chosen))
    else:  # no released quasi-identifier: one class, persons still counted
        ids, classes = np.zeros(len(model.weights), dtype=np.int64), 1
    weights = model.weights
    if model.ucodes is not None and model.linked:
        persons, n_persons = model.ucodes
        group, sizes = signature_groups(ids, persons, classes, n_persons)
        fails = sizes < model.k
        if model.lcodes is not None:
            fails |= _diversity(group[persons], model.lcodes, len(sizes)) < model.l
        person_fails = fails[group]
        violating = int(weights[person_fails[persons]].sum())
        smallest = int(sizes.min()) if len(sizes) else 0
        return ids, _Outcome(
            classes, np.zeros(classes, dtype=bool), violating, person_fails, smallest
        )
    rows = np.bincount(ids, weights=weights, minlength=classes)
    members = rows if model.ucodes is None else persons_per_class(ids, model.ucodes[0], classes)
    failing = members < model.k
    if model.lcodes is not None:
        failing |= _diversity(ids, model.lcodes, classes) < model.l
    smallest = int(members.min()) if len(members) else 0
    return ids, _Outcome(classes, failing, int(rows[failing].sum()), smallest=smallest)


def _best_step(
    levels: list[_Levels],
    chosen: list[int],
    current: _Outcome,
    model: _Model,
    pool: ThreadPoolExecutor,
) -> tuple[list[int], _Outcome] | None:
    """The one-level step that removes the most violating rows per unit of precision lost;
    if none removes any, the one leaving the fewest classes (it merges the most).

    Candidates are evaluated side by side (their sorts release the GIL), the cheapest
    steps first. No step removes more rows than fail now, so once a step's gain is
    known, a step whose loss keeps even that below it cannot win and is not counted."""
    trials = []
    for i, lv in enumerate(levels):
        step = lv.next_level(chosen[i])
        if step is not None:
            loss = (step - chosen[i]) / lv.qi.ladder.top
            trials.append((loss, i, step, [*chosen[:i], step, *chosen[i + 1 :]]))
    trials.sort(key=lambda trial: trial[:2])
    keys = _RoundKeys(levels, chosen, model)

    def outcome(trial: tuple[float, int, int, list[int]]) -> _Outcome:
        _, i, step, vector = trial
        return keys.outcome(i, step) if keys.usable else _evaluate(levels, vector, model)

    best: tuple[tuple[float, int, float, int], list[int], _Outcome] | None = None
    while trials:
        batch, trials = trials[:SEARCH_THREADS], trials[SEARCH_THREADS:]
        for (loss, i, _, vector), found in zip(batch, pool.map(outcome, batch), strict=True):
            gain = (current.violating - found.violating) / loss
            rank = (-gain, found.classes, loss, i)
            if best is None or rank < best[0]:
                best = (rank, vector, found)
        if best is not None:
            trials = [t for t in trials if current.violating / t[0] >= -best[0][0]]
    return None if best is None else (best[1], best[2])


def _dividing_step(
    levels: list[_Levels], chosen: list[int], estimate: Callable[[list[int]], _Outcome]
) -> tuple[list[int], _Outcome] | None:
    """The step dividing its column's distinct values the most (the first such column on
    a tie), chosen without counting classes."""
    open_columns = [i for i, lv in enumerate(levels) if lv.next_level(chosen[i]) is not None]
    if not open_columns:
        return None

    def merged(c: int) -> tuple[float, int]:
        return levels[c].cards[chosen[c]] / levels[c].cards[levels[c].next_level(chosen[c])], -c

    i = max(open_columns, key=merged)
    trial = [*chosen[:i], levels[i].next_level(chosen[i]), *chosen[i + 1 :]]
    return trial, estimate(trial)


def _alone(lv: _Levels, model: _Model) -> Callable[[int], int]:
    """Violating rows with one column alone at a level. In the rows model its classes are
    unions of its base values: rows are counted per base value once, and each level is a
    count over those few values."""
    if model.lcodes is not None or model.ucodes is not None:
        return lambda at: _evaluate([lv], [at], model).violating
    per_base = np.bincount(lv.position, weights=model.weights, minlength=lv.cards[0])

    def violating(at: int) -> int:
        rows = np.bincount(lv.maps[at], weights=per_base, minlength=lv.cards[at])
        return int(rows[rows < model.k].sum())

    return violating


def _lift_alone(levels: list[_Levels], model: _Model, budget: int) -> list[int]:
    """Per quasi-identifier, the lowest level at which that column *alone* leaves few
    enough violating rows. A class over all columns lies inside its class over one, so no
    level below this can pass (Incognito's subset property): the search starts here."""
    chosen = []
    for lv in levels:
        violating = _alone(lv, model)
        at = 0
        while violating(at) > budget:
            step = lv.next_level(at)
            if step is None:
                break
            at = step
        chosen.append(at)
    return chosen


def choose_levels(
    counts: pa.Table,
    qis: Sequence[QuasiIdentifier],
    *,
    k: int,
    l_column: str | None = None,
    l: int = 1,  # noqa: E741
    max_suppression: float,
    unit_column: str | None = None,
    linked: bool = False,
    l_label: str | None = None,
    search: str = "auto",
    quality: str = "loss",
) -> KPlan:
    """Choose the levels: the optimal node under `quality` (see lattice.py), or, with
    `search="greedy"` or above `OPTIMAL_COMBINATIONS` under "auto", generalize greedily
    until few enough rows need suppressing (see the module doc).

    With `unit_column` (the privacy unit), k and l count persons; `linked` says a released
    pseudonym ties each person's rows together (see units.py)."""
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {search!r}")
    weights = counts[COUNT].to_numpy().astype(np.int64)
    rows = int(weights.sum())
    if rows < k:
        raise KAnonymityError(
            f"k={k} is larger than the table ({rows} rows): no {k}-anonymous release exists"
        )
    levels = [_Levels.build(qi, whole(counts[qi.name])) for qi in qis]
    column_names = counts.column_names
    lcodes = ucodes = unit_values = None
    if l_column is not None:
        codes, values = codes_of(whole(counts[l_column]))
        lcodes = (codes, len(values))
    if unit_column is not None:
        codes, unit_values = codes_of(whole(counts[unit_column]))
        ucodes = (codes, len(unit_values))
        if len(unit_values) < k:
            raise KAnonymityError(
                f"k={k} is larger than the number of persons ({len(unit_values)}) in the table"
            )
    model = _Model(weights, lcodes, ucodes, linked and ucodes is not None, k, l)
    del counts  # the levels hold what the search needs; the caller passed its only reference
    pa.default_memory_pool().release_unused()

    def estimate(chosen: Sequence[int]) -> _Outcome:
        return _estimate(levels, chosen, model)

    budget = int(np.floor(max_suppression * rows))
    chosen = _lift_alone(levels, model, budget)
    optimum = search == "optimal" or (
        search == "auto" and len(model.weights) <= OPTIMAL_COMBINATIONS
    )
    found = None
    if optimum:
        from desensitize.lattice import optimal  # it builds on this module

        found = optimal(levels, model, budget, quality, start=chosen)
        if found is None:
            top = [len(lv.maps) - 1 for lv in levels]
            raise KAnonymityError(
                _unreachable(
                    k,
                    l,
                    l_label or l_column,
                    _evaluate(levels, top, model),
                    rows,
                    max_suppression,
                    levels,
                    model,
                )
            )
        chosen = found.chosen
    # Rows of the counts are distinct combinations only if they count no other column.
    counted_alone = set(column_names) == {COUNT, *(qi.name for qi in qis)}
    outcome = (counted_alone and _as_counted(levels, chosen, model)) or estimate(chosen)
    threads = SEARCH_THREADS if len(model.weights) <= THREADED_COMBINATIONS else 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while outcome.violating > budget:
            # Levels only rise: combinations equal now stay equal, so merge them first
            # (not before the optimal search, whose costs need each combination's own
            # values). The outcome says how many classes there are, so a merge too small
            # to pay for its copies is not even tried; it leaves the outcome as it is.
            if outcome.classes <= COMPRESS_BELOW * len(model.weights):
                model.compress(levels, chosen, outcome)
                outcome = replace(outcome, merged=None)  # used: free its classes
            if outcome.violating == rows:
                step = _dividing_step(levels, chosen, estimate)
            else:
                step = _best_step(levels, chosen, outcome, model, pool)
            if step is None:
                raise KAnonymityError(
                    _unreachable(
                        k, l, l_label or l_column, outcome, rows, max_suppression, levels, model
                    )
                )
            chosen, outcome = step
    model.compress(levels, chosen, outcome)  # the class lookup: one row per class
    outcome = _evaluate(levels, chosen, model)  # numbered classes: the suppressed ones
    picked = list(zip(levels, chosen, strict=True))
    suppressed_units = None
    if outcome.failing_persons is not None:
        suppressed_units = unit_values.filter(pa.array(outcome.failing_persons))
    return KPlan(
        k=k,
        l=l,
        levels={lv.qi.name: c for lv, c in picked},
        labels={lv.qi.name: lv.qi.ladder.labels[c] for lv, c in picked},
        heights={lv.qi.name: lv.qi.ladder.top for lv, _ in picked},
        rows=rows,
        rows_suppressed=outcome.violating,
        information_loss=float(np.mean([c / lv.qi.ladder.top for lv, c in picked]))
        if picked
        else 0.0,
        dictionaries={lv.qi.name: lv.values[c] for lv, c in picked},
        encoder=_encoder(levels, chosen, outcome),
        suppressed=outcome.failing,
        maps={lv.qi.name: lv.maps[c] for lv, c in picked},
        suppressed_units=suppressed_units,
        model=_model_name(unit_column, model.linked),
        search="optimal" if found is not None else "greedy",
        quality=quality if found is not None else None,
        cost=found.cost if found is not None else None,
        nodes_checked=found.nodes_checked if found is not None else None,
    )


def _encoder(
    levels: list[_Levels], chosen: Sequence[int], outcome: _Outcome
) -> ClassEncoder | None:
    """The class lookup for batches at the chosen levels; it numbers classes as the search
    did (sorted code tuples), which the suppressed-class flags rely on."""
    if not levels:
        return None
    lazy, cards = _at(levels, chosen)
    codes = [gather() for gather in lazy]
    encoder = ClassEncoder(codes, cards)
    ids, classes = class_ids(codes, cards)
    if encoder.classes != outcome.classes or not np.array_equal(encoder.ids, ids):
        raise AssertionError("class numbering differs between search and lookup")
    return encoder.freeze()


def _model_name(unit_column: str | None, linked: bool) -> str:
    if unit_column is None:
        return "rows"
    return "persons, rows linked by a pseudonym" if linked else "persons"


def _unreachable(
    k: int,
    l: int,  # noqa: E741
    l_column: str | None,
    outcome: _Outcome,
    rows: int,
    limit: float,
    levels: list[_Levels],
    model: _Model,
) -> str:
    what = f"k={k}" + (f" and l={l} on the l-diversity column {l_column!r}" if l_column else "")
    unit = "persons" if model.ucodes is not None else "rows"
    columns = ", ".join(lv.qi.name for lv in levels) or "(none)"
    return (
        f"cannot reach {what} over the released columns {columns}: even fully generalized, "
        f"the smallest class holds {outcome.smallest} {unit} and {outcome.violating} of "
        f"{rows} rows would be suppressed, above max_suppression={limit:g}"
    )


def verify(
    counts: pa.Table | None,
    qis: Sequence[str],
    *,
    k: int,
    l_column: str | None = None,
    l: int = 1,  # noqa: E741
    unit_column: str | None = None,
    linked: bool = False,
    l_label: str | None = None,
) -> None:
    """Check an output's own combination counts: every class has >= k rows, or persons
    (and >= l values); with linked rows, every person's set of classes is shared by >= k
    persons. Grouping is done here afresh, not with the search's codes."""
    if counts is None or counts.num_rows == 0:
        return
    frame = counts.to_pandas()
    keys = list(qis)
    classes = frame.groupby(keys, dropna=False, sort=False).ngroup() if keys else 0
    frame = frame.assign(__class__=classes)
    if unit_column is not None and linked:
        persons, uniques = pd.factorize(frame[unit_column], use_na_sentinel=False)
        cls = np.asarray(frame["__class__"], dtype=np.int64)
        group, _ = signature_groups(cls, persons, int(cls.max()) + 1, len(uniques))
        frame["__group__"] = group[persons]
        by, who = "__group__", unit_column
    else:
        by, who = "__class__", unit_column
    grouped = frame.groupby(by, dropna=False, sort=False)
    members = grouped[who].nunique(dropna=False) if who else grouped[COUNT].sum()
    unit = "persons" if who else "rows"
    if members.min() < k:
        raise KAnonymityError(
            f"output check failed: a class over {', '.join(qis) or '(no columns)'} has "
            f"{members.min()} {unit}, fewer than k={k}"
        )
    if l_column is not None:
        least = grouped[l_column].nunique(dropna=False).min()
        if least < l:
            raise KAnonymityError(
                f"output check failed: a class has {least} distinct {l_label or l_column!r} values, "
                f"fewer than l={l}"
            )
