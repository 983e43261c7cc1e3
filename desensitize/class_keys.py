"""The optimal search's test of a node in the rows model, from class keys.

A node's class keys are its combinations' codes at its levels in a mixed radix, as
`kanon._RoundKeys` makes them, gathered by blocks of columns: each combination's
position in a block's grid of level-0 values is computed once, and a node's keys are a
few table lookups. Rows per class then come from a table indexed by the keys when their
space is small, else from sorting keys that carry the rows in their low bits. A passing
node's cost is read from the failing classes' keys, so no combination needs a class id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from desensitize.combos import sorted_classes, sorted_sizes
from desensitize.kanon import _Levels, _Model

if TYPE_CHECKING:
    from desensitize.lattice import _Costs

__all__ = ["BLOCK_CELLS", "DENSE", "ClassKeys"]

# Columns whose level-0 value counts multiply to at most this share one lookup table per
# node (a few MB at most, built per test), so a class key costs one gather per block of
# columns instead of one per column.
BLOCK_CELLS = 1 << 18
# A pass test counts rows per class in a table indexed by the class's codes, instead of
# sorting, when the codes' space is at most this many times the combinations.
DENSE = 2


class ClassKeys:
    """The pass test of the rows model, as `_RoundKeys` makes it (class keys in a mixed
    radix with rows in the low bits, sorted), with the columns gathered in blocks: each
    combination's position in a block's value grid is computed once, and a node's key is
    a few table lookups."""

    def __init__(self, levels: list[_Levels], model: _Model) -> None:
        self.levels, self.model = levels, model
        self.floor = -math.inf  # what `cost` learnt bounds every node above (see optimal)
        self.blocks: list[tuple[list[int], np.ndarray]] = []
        self.usable = bool(levels) and model.lcodes is None and model.ucodes is None
        if not self.usable or not len(model.weights):
            self.usable = False
            return
        self.shift = max(int(model.weights.max()).bit_length(), 1)
        cards = [lv.cards[0] for lv in levels]
        if float(np.prod(np.array(cards, dtype=np.float64))) * 2.0**self.shift >= 2.0**62:
            self.usable = False
            return
        self.radix = [1 << self.shift] * len(levels)
        for i in range(len(levels) - 2, -1, -1):
            self.radix[i] = self.radix[i + 1] * cards[i + 1]
        # A table is built per test: no larger than the combinations it is gathered for.
        limit = min(BLOCK_CELLS, max(len(model.weights), 1))
        group: list[int] = []
        for i in range(len(levels)):
            if group and np.prod([cards[j] for j in group]) * cards[i] > limit:
                self._block(group, cards)
                group = []
            group.append(i)
        self._block(group, cards)

    def _block(self, columns: list[int], cards: list[int]) -> None:
        cells = int(np.prod([cards[i] for i in columns]))
        wide = np.int32 if cells < 2**31 else np.int64
        place: np.ndarray = np.zeros(len(self.model.weights), dtype=wide)
        for i in columns:
            place *= cards[i]
            place += self.levels[i].position
        self.blocks.append((columns, place))

    def _key(self, chosen: Sequence[int], radix: Sequence[int], start: np.ndarray) -> np.ndarray:
        key = start
        for columns, place in self.blocks:
            table = np.zeros(1, dtype=np.int64)
            for i in columns:
                part = self.levels[i].maps[chosen[i]].astype(np.int64) * radix[i]
                table = (table[:, None] + part[None, :]).ravel()
            key += table[place]
        return key

    def _dense(self, chosen: Sequence[int]) -> list[int] | None:
        """The radix of the class codes at `chosen` when their space is small enough to
        count rows per class in a table (no sort), else None."""
        cards = [lv.cards[c] for lv, c in zip(self.levels, chosen, strict=True)]
        if float(np.prod(np.array(cards, dtype=np.float64))) > DENSE * len(self.model.weights):
            return None
        return [int(np.prod(cards[i:])) for i in range(len(cards) + 1)]

    def _classes(self, chosen: Sequence[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Rows per class, each class's key and the key's radix per column (with the
        space of all keys first): a class's code of column i is key % radix[i] //
        radix[i + 1]."""
        weights = self.model.weights
        radix = self._dense(chosen)
        if radix is not None:
            key = self._key(chosen, radix[1:], np.zeros(len(weights), dtype=np.int64))
            rows = np.bincount(key, weights=weights, minlength=radix[0])
            present = np.flatnonzero(rows)
            return rows[present], present, radix
        key = self._key(chosen, self.radix, weights.astype(np.int64))
        rows, classes = sorted_classes(key, None, self.shift)
        outer = self.radix[0] * self.levels[0].cards[0]
        return rows, classes, [outer >> self.shift] + [r >> self.shift for r in self.radix]

    def violating(self, chosen: Sequence[int]) -> int:
        radix = self._dense(chosen)
        weights = self.model.weights
        if radix is not None:  # the table alone: no need to find the classes present
            key = self._key(chosen, radix[1:], np.zeros(len(weights), dtype=np.int64))
            rows = np.bincount(key, weights=weights, minlength=radix[0])
            return int(rows[(rows > 0) & (rows < self.model.k)].sum())
        key = self._key(chosen, self.radix, weights.astype(np.int64))
        sizes = sorted_sizes(key, None, self.shift)
        return int(sizes[sizes < self.model.k].sum())

    def cost(self, chosen: Sequence[int], quality: str, costs: _Costs | None) -> float:
        """`node_cost` from the classes alone: the failing classes' codes are read back
        from their keys, so no combination needs its class id."""
        sizes, keys, radix = self._classes(chosen)
        failing = sizes < self.model.k
        rows = int(self.model.weights.sum())
        if costs is None:
            kept = sizes[~failing].astype(np.float64)
            suppressed = rows - int(kept.sum())
            every = sizes.astype(np.float64)
            # No node above this one costs less: classes only merge upward, a row costs
            # at least its class's size (rows if suppressed), and there are at most as
            # many classes, plus one of suppressed rows.
            if quality == "discernibility":
                self.floor = float(np.dot(every, every))
                return float(np.dot(kept, kept)) + float(suppressed) * rows
            self.floor = rows / (len(sizes) + 1)
            return rows / max(len(kept) + (1 if suppressed else 0), 1)
        parts = [costs.totals[i][c] for i, c in enumerate(chosen)]
        dropped, weights = keys[failing], sizes[failing].astype(np.float64)
        for i, lv in enumerate(self.levels):
            code = dropped % radix[i] // radix[i + 1]
            parts.extend(weights * costs.penalty(i, lv, chosen[i])[code])
        return costs.scaled(math.fsum(parts))
