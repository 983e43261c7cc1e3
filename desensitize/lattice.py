"""The optimal full-domain generalization: the best node of the lattice of level vectors.

A node gives each counted column a level. It *passes* when at most `budget` rows fall in
classes (or persons) that fail k, l or the person model, and those are suppressed.
Passing is monotone: a node above a passing node passes. Among passing nodes the search
returns the one of least *quality cost* under a chosen model (lower is better):

- ``loss``: ARX's loss (Iyengar's loss metric): per cell, (values merged into the cell's
  generalized value - 1) / (distinct values of the column - 1); a suppressed row loses
  everything (1 per cell); averaged over cells;
- ``entropy``: non-uniform entropy: per cell, -log2 of the share of the original value
  among the rows of its generalized value; a suppressed cell counts -log2 of its value's
  share of the whole column; summed over cells;
- ``discernibility``: the sum of the squared sizes of the kept classes, plus the rows
  suppressed times all rows (each suppressed row is indistinguishable from every row);
- ``aecs``: the average class size, all rows over the kept classes (suppressed rows
  count as one more class).

Best-first search: nodes are taken in order of a lower bound on their cost that never
decreases upward (for loss and entropy the cost of generalization alone, as if nothing
were suppressed, which suppression can only raise; for discernibility and class size
a passing node's own classes, which bound every node above it). The first node taken
whose bound exceeds the best cost found ends the search: no node left can beat it. Ties
go to the lower level vector, as `exhaustive` gives them. Nodes are settled by tagging
(see `optimal`). The search works on value-combination counts, never rows; in the rows
model a node is tested and costed from its class keys (class_keys.py), otherwise with
the greedy search's outcome and class ids.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from desensitize.class_keys import ClassKeys
from desensitize.combos import COUNT, codes_of, whole
from desensitize.kanon import (
    QuasiIdentifier,
    _estimate,
    _Levels,
    _Model,
    _Outcome,
    evaluate_classes,
)
from desensitize.policy import QUALITY_MODELS

__all__ = ["QUALITY_MODELS", "Found", "measure", "optimal"]


@dataclass(frozen=True)
class Found:
    """The optimal node, its cost, and how many nodes were tested."""

    chosen: list[int]
    cost: float
    nodes_checked: int


class _Costs:
    """Per column and level, each base value's cost for the additive models (loss,
    entropy), and each level's total over all rows: the bound of a node is the sum of
    its columns' totals."""

    def __init__(self, levels: list[_Levels], model: _Model, quality: str) -> None:
        self.quality = quality
        self.rows = int(model.weights.sum())
        self.per_value: list[list[np.ndarray]] = []
        self.suppressed: list[np.ndarray] = []  # each base value's cost when suppressed
        self.totals: list[list[float]] = []
        for lv in levels:
            # rows of each base value (its position), whatever the other columns say
            freq = np.bincount(lv.position, weights=model.weights, minlength=len(lv.maps[0]))
            values = []
            for level in range(len(lv.maps)):
                code = lv.maps[level]
                if quality == "loss":
                    merged = np.bincount(code, minlength=lv.cards[level])[code]
                    span = max(len(code) - 1, 1)
                    cost = (merged - 1) / span
                else:  # entropy: -log2 P(value | its generalized value)
                    group = np.bincount(code, weights=freq, minlength=lv.cards[level])[code]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        cost = np.where(freq > 0, -np.log2(freq / np.maximum(group, 1)), 0.0)
                values.append(cost.astype(np.float64))
            self.per_value.append(values)
            if quality == "loss":
                self.suppressed.append(np.ones(len(lv.maps[0])))
            else:
                with np.errstate(divide="ignore"):
                    share = np.where(freq > 0, -np.log2(freq / max(self.rows, 1)), 0.0)
                self.suppressed.append(share)
            # fsum: the same total whatever order the combinations came in (a cluster's
            # merged counts and a stream's must give the same report)
            self.totals.append([math.fsum(freq * cost) for cost in values])
        self.columns = len(levels)

    def penalty(self, column: int, lv: _Levels, level: int) -> np.ndarray:
        """Per code of `level`, what suppressing a row adds to its kept cost: the same for
        every base value of the code (loss: 1 - the code's loss; entropy: log2 of all
        rows over the code's rows), so a class's penalty needs only its codes."""
        rep = lv.representatives(level)
        return self.suppressed[column][rep] - self.per_value[column][level][rep]

    def scaled(self, total: float) -> float:
        return self._scale(total)

    def bound(self, chosen: Sequence[int]) -> float:
        total = math.fsum(self.totals[i][c] for i, c in enumerate(chosen))
        return self._scale(total)

    def _scale(self, total: float) -> float:
        if self.quality == "loss":
            return total / max(self.rows * max(self.columns, 1), 1)
        return total

    def cost(
        self, levels: list[_Levels], chosen: Sequence[int], model: _Model, dropped: np.ndarray
    ) -> float:
        """The node's cost: generalization of the kept rows, plus the suppressed rows'."""
        parts = [self.totals[i][c] for i, c in enumerate(chosen)]
        if dropped.any():
            weights = model.weights[dropped]
            for i, (lv, c) in enumerate(zip(levels, chosen, strict=True)):
                position = lv.position[dropped]
                kept_cost = self.per_value[i][c][position]
                parts.extend(weights * (self.suppressed[i][position] - kept_cost))
        return self._scale(math.fsum(parts))


def _dropped(ids: np.ndarray, outcome: _Outcome, model: _Model) -> np.ndarray:
    """Which combinations the node suppresses."""
    if outcome.failing_persons is not None:
        return outcome.failing_persons[model.ucodes[0]]
    return outcome.failing[ids]


def _class_cost(quality: str, ids: np.ndarray, dropped: np.ndarray, model: _Model) -> float:
    weights = model.weights
    rows = int(weights.sum())
    kept = ~dropped
    sizes = np.bincount(ids[kept], weights=weights[kept])
    sizes = sizes[sizes > 0]
    suppressed = rows - int(sizes.sum())
    if quality == "discernibility":
        return float(np.dot(sizes, sizes)) + float(suppressed) * rows
    classes = len(sizes) + (1 if suppressed else 0)
    return rows / max(classes, 1)


def node_cost(
    levels: list[_Levels], chosen: Sequence[int], model: _Model, quality: str, costs: _Costs | None
) -> tuple[_Outcome, float]:
    """A node's full outcome and its cost (whether or not it passes)."""
    ids, outcome = evaluate_classes(levels, chosen, model)
    dropped = _dropped(ids, outcome, model)
    if costs is not None:
        return outcome, costs.cost(levels, chosen, model, dropped)
    return outcome, _class_cost(quality, ids, dropped, model)


def steps(levels: list[_Levels]) -> list[list[int]]:
    """Per column, the levels that merge something (a level equal to the one below it in
    value count is the same partition: it only adds loss)."""
    out = []
    for lv in levels:
        chain, at = [0], 0
        while (at := lv.next_level(at)) is not None:
            chain.append(at)
        out.append(chain)
    return out


class _Tags:
    """What is known of passing without a test: a node above a passing node passes, a node
    below a failing one fails (Flash's predictive tagging). Kept as the minimal passing and
    maximal failing nodes tested, compared with a node all at once."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.found: dict[bool, list[tuple[int, ...]]] = {True: [], False: []}
        self.arrays: dict[bool, np.ndarray] = {}

    def add(self, node: tuple[int, ...], passes: bool) -> None:
        self.found[passes].append(node)
        self.arrays.pop(passes, None)

    def _array(self, passes: bool) -> np.ndarray:
        if passes not in self.arrays:
            nodes = self.found[passes]
            self.arrays[passes] = np.array(nodes, dtype=np.int32).reshape(len(nodes), self.width)
        return self.arrays[passes]

    def known(self, node: tuple[int, ...]) -> bool | None:
        at = np.asarray(node, dtype=np.int32)
        if (self._array(True) <= at).all(axis=1).any():
            return True
        if (self._array(False) >= at).all(axis=1).any():
            return False
        return None


def optimal(
    levels: list[_Levels],
    model: _Model,
    budget: int,
    quality: str,
    start: Sequence[int] | None = None,
) -> Found | None:
    """The passing node of least cost (None if none passes); `start` is a node below
    which nothing passes (the columns' lift-alone levels), to skip the hopeless part.

    Nodes are taken in order of their bound; an untested one is settled with the others
    on a path up from it that stays within the best cost found (each step the one that
    raises the bound least), tested top first then by bisection: a failing top settles
    every node below it, a passing node every node above it, so most of the lattice
    under the optimum is never tested one node at a time."""
    if quality not in QUALITY_MODELS:
        raise ValueError(f"quality must be one of {', '.join(QUALITY_MODELS)}, got {quality!r}")
    chains = steps(levels)
    costs = _Costs(levels, model, quality) if quality in ("loss", "entropy") else None
    first = tuple(
        max(i for i, level in enumerate(chain) if level <= (start[n] if start else 0))
        for n, chain in enumerate(chains)
    )

    def levels_of(node: tuple[int, ...]) -> list[int]:
        return [chain[i] for chain, i in zip(chains, node, strict=True)]

    bounds: dict[tuple[int, ...], float] = {}

    def bound(node: tuple[int, ...]) -> float:
        if node not in bounds:
            bounds[node] = costs.bound(levels_of(node)) if costs is not None else 0.0
        return bounds[node]

    def above(node: tuple[int, ...]) -> list[tuple[int, ...]]:
        return [
            node[:i] + (node[i] + 1,) + node[i + 1 :]
            for i, chain in enumerate(chains)
            if node[i] + 1 < len(chain)
        ]

    tags = _Tags(len(chains))
    keys = ClassKeys(levels, model)
    cost_of: dict[tuple[int, ...], float] = {}
    best: tuple[float, tuple[int, ...]] | None = None
    checked = 0

    def test(node: tuple[int, ...]) -> bool:
        nonlocal checked
        known = tags.known(node)
        if known is None:
            checked += 1
            if keys.usable:
                known = keys.violating(levels_of(node)) <= budget
            else:
                known = _estimate(levels, levels_of(node), model).violating <= budget
            tags.add(node, known)
        return known

    def consider(node: tuple[int, ...]) -> None:
        nonlocal best
        if node not in cost_of:
            if keys.usable:
                keys.floor = -math.inf
                cost_of[node] = keys.cost(levels_of(node), quality, costs)
                floors[node] = keys.floor
            else:
                cost_of[node] = node_cost(levels, levels_of(node), model, quality, costs)[1]
        cost = cost_of[node]
        if best is None or (cost, node) < (best[0], best[1]):
            best = (cost, node)

    def settle(node: tuple[int, ...]) -> None:
        path = [node]
        while True:
            ups = [(bound(up), up) for up in above(path[-1])]
            ups = [(b, up) for b, up in ups if best is None or b <= best[0]]
            if not ups:
                break
            path.append(min(ups)[1])
        if not test(path[-1]):
            return
        lo, hi = 0, len(path) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if test(path[mid]):
                hi = mid
            else:
                lo = mid + 1
        consider(path[hi])  # the lowest passing node of the path: a cost to bound by

    # For discernibility and class size, a node's classes bound every node above it: the
    # bound a node is queued with is the most its parent knew.
    floors: dict[tuple[int, ...], float] = {}
    heap = [(bound(first), first)]
    seen = {first}
    while heap:
        low, node = heapq.heappop(heap)
        if best is not None and low > best[0]:
            break
        passes = tags.known(node)
        if passes is None:
            settle(node)
            passes = bool(tags.known(node))
        if passes:
            consider(node)
        for up in above(node):
            if up not in seen:
                seen.add(up)
                heapq.heappush(heap, (max(bound(up), low, floors.get(node, low)), up))
    if best is None:
        return None
    return Found(levels_of(best[1]), best[0], checked)


def measure(
    counts: pa.Table,
    qis: Sequence[QuasiIdentifier],
    chosen: Sequence[int],
    *,
    k: int,
    l_column: str | None = None,
    l: int = 1,  # noqa: E741
    unit_column: str | None = None,
    linked: bool = False,
) -> dict[str, float]:
    """Every quality model's cost of one level vector over combination counts, its
    failing classes suppressed: how another choice (the greedy's, a provider's own
    levels) compares with the optimum on the same scale."""
    weights = counts[COUNT].to_numpy().astype(np.int64)
    levels = [_Levels.build(qi, whole(counts[qi.name])) for qi in qis]
    lcodes = ucodes = None
    if l_column is not None:
        codes, values = codes_of(whole(counts[l_column]))
        lcodes = (codes, len(values))
    if unit_column is not None:
        codes, values = codes_of(whole(counts[unit_column]))
        ucodes = (codes, len(values))
    model = _Model(weights, lcodes, ucodes, linked and ucodes is not None, k, l)
    out = {}
    for quality in QUALITY_MODELS:
        costs = _Costs(levels, model, quality) if quality in ("loss", "entropy") else None
        out[quality] = node_cost(levels, list(chosen), model, quality, costs)[1]
    return out
