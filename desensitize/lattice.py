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
nothing better than a constant is known, so every passing node is looked at). The first
node taken whose bound exceeds the best cost found ends the search: no node left can
beat it. Ties go to the lower level vector, as `exhaustive` gives them. The search works
on value-combination counts, never rows; the pass test is the sort-based shortcut of the
greedy search, and only passing nodes are fully classed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desensitize.kanon import _estimate, _Levels, _Model, _Outcome, evaluate_classes
from desensitize.policy import QUALITY_MODELS

__all__ = ["QUALITY_MODELS", "Found", "optimal"]


@dataclass(frozen=True)
class Found:
    """The optimal node, its outcome and cost, and how many nodes were tested."""

    chosen: list[int]
    outcome: _Outcome
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


def optimal(
    levels: list[_Levels],
    model: _Model,
    budget: int,
    quality: str,
    start: Sequence[int] | None = None,
) -> Found | None:
    """The passing node of least cost (None if none passes); `start` is a node below
    which nothing passes (the columns' lift-alone levels), to skip the hopeless part."""
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

    def bound(node: tuple[int, ...]) -> float:
        return costs.bound(levels_of(node)) if costs is not None else 0.0

    heap = [(bound(first), first)]
    seen = {first}
    passing: set[tuple[int, ...]] = set()
    best: tuple[float, tuple[int, ...], _Outcome] | None = None
    checked = 0
    while heap:
        low, node = heapq.heappop(heap)
        if best is not None and low > best[0]:
            break
        chosen = levels_of(node)
        passes = any(
            node[:i] + (node[i] - 1,) + node[i + 1 :] in passing
            for i in range(len(node))
            if node[i] > 0
        )
        if not passes:
            checked += 1
            passes = _estimate(levels, chosen, model).violating <= budget
        if passes:
            passing.add(node)
            outcome, cost = node_cost(levels, chosen, model, quality, costs)
            if best is None or (cost, node) < (best[0], best[1]):
                best = (cost, node, outcome)
        for i, chain in enumerate(chains):
            if node[i] + 1 < len(chain):
                up = node[:i] + (node[i] + 1,) + node[i + 1 :]
                if up not in seen:
                    seen.add(up)
                    heapq.heappush(heap, (bound(up), up))
    if best is None:
        return None
    return Found(levels_of(best[1]), best[2], best[0], checked)
