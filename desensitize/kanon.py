"""k-anonymity and l-diversity over quasi-identifiers: choose levels, suppress, verify.

The search never needs the rows. It works on a table of *combinations*: each
distinct tuple of level-0 quasi-identifier values (plus the l-diversity value),
with how many rows have it. The streaming engine builds that table batch by
batch in its first pass; in memory it is built in one go, so both choose the
same levels. Each ladder renders every level from level-0 values, so a level
vector maps combinations to equivalence classes without touching the rows.

Greedy search: while more rows sit in classes smaller than k (or less diverse
than l) than `max_suppression` allows, raise one quasi-identifier one level; the
step chosen removes the most violating rows per unit of precision lost (a level
costs 1/height of its ladder), or, when no step removes any, merges the most
classes. Then the remaining violating classes are suppressed, and the output is
checked independently by grouping its own values.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.errors import DataError, KAnonymityError
from desensitize.rules.base import Ladder
from desensitize.units import persons_per_class, signature_groups

__all__ = [
    "ComboCounts",
    "KPlan",
    "QuasiIdentifier",
    "StableCodes",
    "choose_levels",
    "class_ids",
    "codes_of",
    "verify",
]

COUNT = "__count__"
SEARCH_THREADS = 2


@dataclass(frozen=True)
class QuasiIdentifier:
    name: str
    ladder: Ladder


class _GroupedCounts:
    """Counts of distinct value combinations by Arrow's group-by, merged batch by batch.

    Each batch adds its own counts; once `pending` rows of those accumulate they are
    merged into the running total, so memory stays near the number of distinct
    combinations plus `pending`. `ComboCounts` falls back on this for wide keys.
    """

    def __init__(self, names: Sequence[str], pending: int = 250_000) -> None:
        self.names = list(names)
        self._parts: list[pa.Table] = []
        self._pending = 0
        self._limit = pending

    def add(self, table: pa.Table) -> None:
        part = table.select(self.names).group_by(self.names, use_threads=False)
        self.add_counts(part.aggregate([([], "count_all")]).rename_columns([*self.names, COUNT]))

    def add_counts(self, counts: pa.Table) -> None:
        """Add combinations already counted (their rows in column `COUNT`)."""
        self._parts.append(counts.select([*self.names, COUNT]))
        self._pending += counts.num_rows
        if self._pending > self._limit and len(self._parts) > 1:
            self._compact()

    def _compact(self) -> None:
        merged = pa.concat_tables(self._parts, promote_options="permissive")
        merged = merged.group_by(self.names, use_threads=False).aggregate([(COUNT, "sum")])
        self._parts = [merged.rename_columns([*self.names, COUNT])]
        self._pending = 0

    def table(self) -> pa.Table:
        if len(self._parts) > 1:
            self._compact()
        return self._parts[0]


class StableCodes:
    """Integer codes for one column's values, the same in every batch."""

    def __init__(self) -> None:
        self.known: pa.Array | None = None

    def __call__(self, values: pa.Array) -> np.ndarray:
        if self.known is None:  # one hash pass gives the values and their codes
            encoded = pc.dictionary_encode(values, null_encoding="encode")
            self.known = encoded.dictionary
            return encoded.indices.to_numpy().astype(np.int64)
        codes = pc.index_in(values, value_set=self.known, skip_nulls=False)
        if not codes.null_count:
            return codes.to_numpy().astype(np.int64)
        fresh = pc.unique(values.filter(pc.is_null(codes)))
        self.known = pa.concat_arrays([self.known, fresh.cast(self.known.type)])
        codes = pc.index_in(values, value_set=self.known, skip_nulls=False)
        return codes.to_numpy().astype(np.int64)


class ComboCounts:
    """Rows per distinct combination of values, merged batch by batch in bounded memory.

    Values get `StableCodes`. While the product of the columns' distinct counts stays
    within `DENSE`, the counts are one array indexed by the codes (a `bincount` per
    batch, no sorting). Beyond that a row's codes are packed into one int64, and the
    running counts are two sorted numpy arrays: memory stays near the number of
    distinct combinations however long the input, and nothing is hashed twice. Should
    a column outgrow its share of the 63 bits, counting goes on by group-by over the codes.
    """

    DENSE = 1 << 21  # cells of the direct count array (16 MB) before packed keys take over

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._codes = {name: StableCodes() for name in self.names}
        self._bits = 63 // max(len(self.names), 1)
        self._keys = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._overflow: _GroupedCounts | None = None
        # Counts by code, one axis per column; None once packed keys have taken over.
        self._dense: np.ndarray | None = np.zeros([0] * len(self.names), np.int64)
        if not self.names:
            self._dense = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        codes = {n: self._codes[n](table.column(n).combine_chunks()) for n in self.names}
        if self._dense is not None:
            cards = tuple(len(self._codes[n].known) for n in self.names)
            if np.prod(np.array(cards, dtype=np.float64)) <= self.DENSE:
                self._add_dense(codes, cards)
                return
        wide = any(len(self._codes[n].known) > 1 << self._bits for n in self.names)
        if wide and self._overflow is None:
            self._overflow = _GroupedCounts(self.names)
            self._overflow.add_counts(self._unpacked())
        elif self._dense is not None:
            self._keys, self._counts = self._packed_dense()
        self._dense = None
        if self._overflow is not None:
            self._overflow.add(pa.table(codes))
            return
        key = np.zeros(table.num_rows, dtype=np.int64)
        for name in self.names:
            key = (key << self._bits) | codes[name]
        self._merge(*np.unique(key, return_counts=True))

    def _add_dense(self, codes: dict[str, np.ndarray], cards: tuple[int, ...]) -> None:
        if self._dense.shape != cards:  # new values seen: widen, keeping the counts so far
            grown = np.zeros(cards, dtype=np.int64)
            grown[tuple(slice(0, n) for n in self._dense.shape)] = self._dense
            self._dense = grown
        key = np.zeros(len(codes[self.names[0]]), dtype=np.int64)
        for name, card in zip(self.names, cards, strict=True):
            key = key * card + codes[name]
        flat = self._dense.reshape(-1)
        flat += np.bincount(key, minlength=flat.size)

    def _dense_cells(self) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """The codes of the combinations seen (in sorted order) and their counts."""
        flat = self._dense.reshape(-1)
        at = np.flatnonzero(flat)
        return np.unravel_index(at, self._dense.shape), flat[at]

    def _packed_dense(self) -> tuple[np.ndarray, np.ndarray]:
        cells, counts = self._dense_cells()
        key = np.zeros(len(counts), dtype=np.int64)
        for code in cells:
            key = (key << self._bits) | code
        return key, counts

    def _merge(self, keys: np.ndarray, counts: np.ndarray) -> None:
        at = np.searchsorted(self._keys, keys)
        found = at < len(self._keys)
        found[found] = self._keys[at[found]] == keys[found]
        self._counts[at[found]] += counts[found]
        self._keys = np.insert(self._keys, at[~found], keys[~found])
        self._counts = np.insert(self._counts, at[~found], counts[~found])

    def _unpacked(self) -> pa.Table:
        """The running counts as a table of codes."""
        if self._dense is not None:
            cells, counts = self._dense_cells()
            return pa.table({**dict(zip(self.names, cells, strict=True)), COUNT: counts})
        mask = (1 << self._bits) - 1
        width = len(self.names)
        codes = {
            n: (self._keys >> ((width - 1 - i) * self._bits)) & mask
            for i, n in enumerate(self.names)
        }
        return pa.table({**codes, COUNT: self._counts})

    def table(self, *, encoded: bool = False) -> pa.Table | None:
        """The counts with the values themselves (column `COUNT` holds the rows), or None
        if nothing was added. `encoded` gives dictionary columns over the values seen, so
        the level search need not hash them again."""
        if self._dense is not None and not self._dense.any():
            return None
        if self._dense is None and self._overflow is None and not len(self._keys):
            return None
        coded = self._overflow.table() if self._overflow is not None else self._unpacked()
        values = {}
        for n in self.names:
            codes, known = coded.column(n).combine_chunks(), self._codes[n].known
            if encoded:
                values[n] = pa.DictionaryArray.from_arrays(codes.cast(pa.int64()), known)
            else:
                values[n] = known.take(codes)
        return pa.table({**values, COUNT: coded.column(COUNT)})

    def sizes(self) -> np.ndarray:
        """Rows per distinct combination."""
        if self._overflow is not None:
            return self._overflow.table()[COUNT].to_numpy()
        if self._dense is not None:
            return self._dense_cells()[1]
        return self._counts.copy()


def codes_of(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dense integer codes of values (null is a value of its own), and the value of each code.

    A dictionary column is taken as it is: its dictionary must hold only values present
    (as `ComboCounts.table(encoded=True)` gives)."""
    if pa.types.is_dictionary(values.type):
        return values.indices.to_numpy().astype(np.int64), values.dictionary
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary


class ClassEncoder:
    """Maps per-quasi-identifier codes to dense class ids, the same way for every batch.

    Codes are combined one column at a time and re-densified against the sorted
    combinations seen when fitting, so keys never overflow however many columns.
    """

    DENSE = 1 << 20  # up to this many code combinations, a direct lookup table

    def __init__(self, codes: Sequence[np.ndarray], cards: Sequence[int]) -> None:
        self.cards = list(cards)
        self.stages: list[np.ndarray] = []
        key = codes[0]
        for code, card in zip(codes[1:], self.cards[1:], strict=True):
            bound = (int(key.max()) + 1) * card if len(key) else 0
            valid, key = _unique_inverse(key * card + code, bound)
            self.stages.append(valid)
        self.ids = key
        self.classes = len(self.stages[-1]) if self.stages else self.cards[0]
        self._fitted = codes
        self._dense: np.ndarray | None = None

    def _radix(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        key = np.zeros(len(codes[0]), dtype=np.int64)
        for code, card in zip(codes, self.cards, strict=True):
            key = key * card + code
        return key

    def freeze(self) -> ClassEncoder:
        """Ready for `encode`: a direct lookup table when small enough; drops fitting data."""
        combinations = np.prod(np.array(self.cards, dtype=np.float64))
        if combinations <= self.DENSE:
            self._dense = np.full(int(combinations), -1, dtype=np.int64)
            self._dense[self._radix(self._fitted)] = self.ids
        self._fitted = self.ids = None
        return self

    def encode(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        if self._dense is not None:
            ids = self._dense[self._radix(codes)]
            if len(ids) and ids.min() < 0:
                raise DataError("the input changed between the two passes over it")
            return ids
        key = codes[0]
        for code, card, valid in zip(codes[1:], self.cards[1:], self.stages, strict=True):
            raw = key * card + code
            key = np.searchsorted(valid, raw)
            if len(raw) and (key.max() >= len(valid) or np.any(valid[key] != raw)):
                raise DataError("the input changed between the two passes over it")
        return key


def class_ids(codes: Sequence[np.ndarray], cards: Sequence[int]) -> tuple[np.ndarray, int]:
    """Dense class ids of code tuples (numbered in the tuples' sorted order, as
    `ClassEncoder` numbers them) and how many: one pass over a mixed-radix key when the
    key fits in 62 bits, else column by column."""
    space = float(np.prod(np.array(cards, dtype=np.float64)))
    if space >= 2**62:
        encoder = ClassEncoder(codes, cards)
        return encoder.ids, encoder.classes
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for code, card in zip(codes, cards, strict=True):
        key = key * card + code
    valid, ids = _unique_inverse(key, int(space))
    return ids, len(valid)


def _unique_inverse(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, return_inverse=True)` for keys in [0, bound): by a table of the
    keys present when that is small enough, else by sorting."""
    if not len(keys) or bound > max(ClassEncoder.DENSE, 4 * len(keys)):
        return np.unique(keys, return_inverse=True)
    present = np.zeros(bound, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[keys]


@dataclass
class _Levels:
    """Per quasi-identifier: codes of every combination at every level, and how many."""

    qi: QuasiIdentifier
    distinct: pa.Array
    codes: list[np.ndarray | None] = field(default_factory=list)  # None: merged away
    values: list[pa.Array] = field(default_factory=list)

    @property
    def cards(self) -> list[int]:
        return [len(values) for values in self.values]

    @classmethod
    def build(cls, qi: QuasiIdentifier, column: pa.Array) -> _Levels:
        if pa.types.is_dictionary(column.type):
            position, distinct = codes_of(column)
        else:
            distinct = pc.unique(column)
            position = pc.index_in(column, value_set=distinct, skip_nulls=False).to_numpy()
        levels = cls(qi, distinct)
        for level in range(qi.ladder.top + 1):
            code, values = codes_of(qi.ladder.at(distinct, level))
            levels.codes.append(code[position])
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
    encoder: ClassEncoder
    suppressed: np.ndarray
    suppressed_units: pa.Array | None = None  # persons removed whole (linked model)
    model: str = "rows"

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
        if not codes or len(codes[0]) == 0:
            return np.zeros(len(next(iter(outputs.values()), [])), dtype=bool)
        return self.suppressed[self.encoder.encode(codes)]

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
        }


@dataclass(frozen=True)
class _Outcome:
    """Equivalence classes at one level vector: which classes (or, when a pseudonym links
    a person's rows, which persons) fail k or l, and how many rows that is."""

    ids: np.ndarray  # the class of each combination
    classes: int
    failing: np.ndarray
    violating: int
    failing_persons: np.ndarray | None = None
    smallest: int = 0  # the smallest class (rows or persons) or signature group


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

    def compress(self, levels: list[_Levels], chosen: Sequence[int]) -> bool:
        """Merge combinations equal at the chosen levels: higher levels cannot tell them
        apart, so the rest of the search runs on fewer of them."""
        codes = [lv.codes[c] for lv, c in zip(levels, chosen, strict=True)]
        cards = [lv.cards[c] for lv, c in zip(levels, chosen, strict=True)]
        for extra in (self.lcodes, self.ucodes):
            if extra is not None:
                codes.append(extra[0])
                cards.append(extra[1])
        if not codes:
            return False
        ids, merged = class_ids(codes, cards)
        if merged > 0.8 * len(ids):
            return False  # too few merges to pay for the copies
        # The first combination of each class, by a scatter instead of a sort.
        first = np.empty(merged, dtype=np.int64)
        first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
        self.weights = np.bincount(ids, weights=self.weights, minlength=merged)
        for lv, at in zip(levels, chosen, strict=True):
            # Levels below the chosen one are never looked at again.
            lv.codes = [None if j < at else code[first] for j, code in enumerate(lv.codes)]
        if self.lcodes is not None:
            self.lcodes = (self.lcodes[0][first], self.lcodes[1])
        if self.ucodes is not None:
            self.ucodes = (self.ucodes[0][first], self.ucodes[1])
        return True


def _diversity(groups: np.ndarray, lcodes: tuple[np.ndarray, int], n_groups: int) -> np.ndarray:
    codes, card = lcodes
    pairs = np.unique(groups.astype(np.int64) * card + codes)
    return np.bincount(pairs // card, minlength=n_groups)


def _evaluate(levels: list[_Levels], chosen: Sequence[int], model: _Model) -> _Outcome:
    ids, classes = class_ids(
        [lv.codes[c] for lv, c in zip(levels, chosen, strict=True)],
        [lv.cards[c] for lv, c in zip(levels, chosen, strict=True)],
    )
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
        return _Outcome(
            ids, classes, np.zeros(classes, dtype=bool), violating, person_fails, smallest
        )
    if model.ucodes is not None:
        members = persons_per_class(ids, model.ucodes[0], classes)
    else:
        members = np.bincount(ids, weights=weights, minlength=classes)
    failing = members < model.k
    if model.lcodes is not None:
        failing |= _diversity(ids, model.lcodes, classes) < model.l
    rows = np.bincount(ids, weights=weights, minlength=classes)
    smallest = int(members.min()) if len(members) else 0
    return _Outcome(ids, classes, failing, int(rows[failing].sum()), smallest=smallest)


def _best_step(
    levels: list[_Levels], chosen: list[int], current: _Outcome, evaluate, pool: ThreadPoolExecutor
) -> tuple[list[int], _Outcome] | None:
    """The one-level step that removes the most violating rows per unit of precision lost;
    if none removes any, the one leaving the fewest classes (it merges the most).

    Candidates are evaluated side by side: their sorts release the GIL."""
    trials = []
    for i, lv in enumerate(levels):
        step = lv.next_level(chosen[i])
        if step is not None:
            trials.append((i, step, [*chosen[:i], step, *chosen[i + 1 :]]))
    outcomes = pool.map(evaluate, [trial for _, _, trial in trials])
    best = None
    for (i, step, trial), outcome in zip(trials, outcomes, strict=True):
        loss = (step - chosen[i]) / levels[i].qi.ladder.top
        gain = (current.violating - outcome.violating) / loss
        rank = (-gain, outcome.classes, loss, i)
        if best is None or rank < best[0]:
            best = (rank, trial, outcome)
    return None if best is None else (best[1], best[2])


def _lift_alone(levels: list[_Levels], model: _Model, budget: int) -> list[int]:
    """Per quasi-identifier, the lowest level at which that column *alone* leaves few
    enough violating rows. A class over all columns lies inside its class over one, so no
    level below this can pass (Incognito's subset property): the search starts here."""
    chosen = []
    for lv in levels:
        at = 0
        while _evaluate([lv], [at], model).violating > budget:
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
) -> KPlan:
    """Generalize greedily until few enough rows need suppressing; see the module doc.

    With `unit_column` (the privacy unit), k and l count persons; `linked` says a released
    pseudonym ties each person's rows together (see units.py)."""
    weights = counts[COUNT].to_numpy().astype(np.float64)
    rows = int(weights.sum())
    if rows < k:
        raise KAnonymityError(
            f"k={k} is larger than the table ({rows} rows): no {k}-anonymous release exists"
        )
    levels = [_Levels.build(qi, counts[qi.name].combine_chunks()) for qi in qis]
    lcodes = ucodes = unit_values = None
    if l_column is not None:
        codes, values = codes_of(counts[l_column].combine_chunks())
        lcodes = (codes, len(values))
    if unit_column is not None:
        codes, unit_values = codes_of(counts[unit_column].combine_chunks())
        ucodes = (codes, len(unit_values))
        if len(unit_values) < k:
            raise KAnonymityError(
                f"k={k} is larger than the number of persons ({len(unit_values)}) in the table"
            )
    model = _Model(weights, lcodes, ucodes, linked and ucodes is not None, k, l)

    def evaluate(chosen: Sequence[int]) -> _Outcome:
        return _evaluate(levels, chosen, model)

    budget = int(np.floor(max_suppression * rows))
    chosen = _lift_alone(levels, model, budget)
    model.compress(levels, chosen)
    outcome = evaluate(chosen)
    with ThreadPoolExecutor(max_workers=SEARCH_THREADS) as pool:
        while outcome.violating > budget:
            # Levels only rise: combinations equal now stay equal, so merge them first.
            if model.compress(levels, chosen):
                outcome = evaluate(chosen)
            step = _best_step(levels, chosen, outcome, evaluate, pool)
            if step is None:
                raise KAnonymityError(
                    _unreachable(
                        k, l, l_label or l_column, outcome, rows, max_suppression, levels, model
                    )
                )
            chosen, outcome = step
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
        suppressed_units=suppressed_units,
        model=_model_name(unit_column, model.linked),
    )


def _encoder(levels: list[_Levels], chosen: Sequence[int], outcome: _Outcome) -> ClassEncoder:
    """The class lookup for batches at the chosen levels; it numbers classes as the search
    did (sorted code tuples), which the suppressed-class flags rely on."""
    encoder = ClassEncoder(
        [lv.codes[c] for lv, c in zip(levels, chosen, strict=True)],
        [lv.cards[c] for lv, c in zip(levels, chosen, strict=True)],
    )
    if encoder.classes != outcome.classes or not np.array_equal(encoder.ids, outcome.ids):
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
