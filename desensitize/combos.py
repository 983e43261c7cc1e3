"""Counting value combinations and numbering classes, for the release gate.

`ComboCounts` keeps rows per distinct combination of values over batches in bounded
memory; `ClassEncoder` and `class_ids` number equivalence classes from per-column
codes. The level search in kanon.py works on both, never on rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.errors import DataError

__all__ = [
    "COUNT",
    "ClassEncoder",
    "ComboCounts",
    "StableCodes",
    "class_ids",
    "codes_of",
    "index_type",
    "sizes_by_sort",
    "sorted_classes",
    "unique_counts",
    "sorted_sizes",
    "whole",
]

COUNT = "__count__"


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
    """Integer codes for one column's values, the same in every batch: Arrow's own 32-bit
    indices, not copied (callers widen them where they combine them)."""

    def __init__(self) -> None:
        self.known: pa.Array | None = None

    def __call__(self, values: pa.Array) -> np.ndarray:
        if self.known is None:  # one hash pass gives the values and their codes
            encoded = pc.dictionary_encode(values, null_encoding="encode")
            self.known = encoded.dictionary
            return encoded.indices.to_numpy()
        codes = pc.index_in(values, value_set=self.known, skip_nulls=False)
        if not codes.null_count:
            return codes.to_numpy()
        fresh = pc.unique(values.filter(pc.is_null(codes)))
        self.known = pa.concat_arrays([self.known, fresh.cast(self.known.type)])
        codes = pc.index_in(values, value_set=self.known, skip_nulls=False)
        return codes.to_numpy()


class ComboCounts:
    """Rows per distinct combination of values, merged batch by batch in bounded memory.

    Values get `StableCodes`. While the product of the columns' distinct counts stays
    within `DENSE`, the counts are one array indexed by the codes (a `bincount` per
    batch, no sorting). Beyond that a row's codes are packed into one int64, and the
    running counts are two sorted numpy arrays: memory stays near the number of
    distinct combinations however long the input, and nothing is hashed twice. Each
    column gets the bits its distinct count needs (with room to grow; keys are re-packed
    when it outgrows them). Should the columns together outgrow 63 bits, counting goes on
    by group-by over the codes.
    """

    DENSE = 1 << 21  # cells of the direct count array (16 MB) before packed keys take over

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._codes = {name: StableCodes() for name in self.names}
        self._widths: list[int] | None = None  # bits per column once keys are packed
        self._keys = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._overflow: _GroupedCounts | None = None
        # Counts by code, one axis per column; None once packed keys have taken over.
        self._dense: np.ndarray | None = np.zeros([0] * len(self.names), np.int64)
        if not self.names:
            self._dense = None

    def add(self, table: pa.Table, pool: Executor | None = None) -> dict[str, np.ndarray]:
        """Count a batch's combinations, and give each row's code per column (codes index
        the values `table(encoded=True)` gives as dictionaries); with `pool`, columns are
        coded side by side (each column has its own `StableCodes`, and hashing releases
        the GIL)."""
        if table.num_rows == 0:
            return {name: np.zeros(0, dtype=np.int64) for name in self.names}

        def code(name: str) -> np.ndarray:
            return self.code(name, whole(table.column(name)))

        mapper = pool.map if pool is not None else map
        codes = dict(zip(self.names, mapper(code, self.names), strict=True))
        self.add_codes(codes)
        return codes

    def code(self, name: str, values: pa.Array) -> np.ndarray:
        """The codes of one column's values; columns may be coded on different threads at
        once (each has its own `StableCodes`), one batch at a time."""
        return self._codes[name](values)

    def add_codes(self, codes: dict[str, np.ndarray], pool: Executor | None = None) -> None:
        """Count a batch's combinations from its columns' `code`s (with `pool`, a large
        batch's keys are sorted in two ranges side by side)."""
        if not len(codes[self.names[0]]):
            return
        if self._dense is not None:
            cards = tuple(len(self._codes[n].known) for n in self.names)
            if np.prod(np.array(cards, dtype=np.float64)) <= self.DENSE:
                self._add_dense(codes, cards)
                return
        if self._overflow is None and not self._fits():
            widths = _widths([len(self._codes[n].known) for n in self.names])
            if widths is None:
                self._overflow = _GroupedCounts(self.names)
                self._overflow.add_counts(self._unpacked())
            elif self._dense is not None:
                self._widths = widths
                self._keys, self._counts = self._packed_dense()
            else:  # wider fields keep the keys' order: re-pack without sorting
                unpacked = self._unpacked()
                self._widths = widths
                self._keys = self._pack([unpacked[n].to_numpy() for n in self.names])
        self._dense = None
        if self._overflow is not None:
            self._overflow.add(pa.table(codes))
            return
        key = self._pack([codes[name] for name in self.names])
        self._merge(*unique_counts(key, pool))

    def _fits(self) -> bool:
        """True if packed keys exist and every column's codes fit its field."""
        if self._widths is None:
            return False
        return all(
            len(self._codes[n].known) <= 1 << width
            for n, width in zip(self.names, self._widths, strict=True)
        )

    def _pack(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        key = np.zeros(len(codes[0]), dtype=np.int64)
        for code, width in zip(codes, self._widths, strict=True):
            key <<= width
            key |= code
        return key

    def _add_dense(self, codes: dict[str, np.ndarray], cards: tuple[int, ...]) -> None:
        if self._dense.shape != cards:  # new values seen: widen, keeping the counts so far
            grown = np.zeros(cards, dtype=np.int64)
            grown[tuple(slice(0, n) for n in self._dense.shape)] = self._dense
            self._dense = grown
        key = np.zeros(len(codes[self.names[0]]), dtype=np.int64)
        for name, card in zip(self.names, cards, strict=True):
            key *= card
            key += codes[name]
        flat = self._dense.reshape(-1)
        flat += np.bincount(key, minlength=flat.size)

    def _dense_cells(self) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """The codes of the combinations seen (in sorted order) and their counts."""
        flat = self._dense.reshape(-1)
        at = np.flatnonzero(flat)
        return np.unravel_index(at, self._dense.shape), flat[at]

    def _packed_dense(self) -> tuple[np.ndarray, np.ndarray]:
        cells, counts = self._dense_cells()
        return self._pack(list(cells)), counts

    def _merge(self, keys: np.ndarray, counts: np.ndarray) -> None:
        if not len(self._keys):  # the first batch's counts are the counts
            self._keys, self._counts = keys, counts.astype(np.int64, copy=False)
            return
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
        codes, shift = {}, 0
        field = np.empty_like(self._keys)  # one scratch array for every column
        for name, width in reversed(list(zip(self.names, self._widths, strict=True))):
            np.right_shift(self._keys, shift, out=field)
            np.bitwise_and(field, (1 << width) - 1, out=field)
            # the narrowest integers the codes fit: millions of combinations, many columns
            codes[name] = field.astype(index_type(len(self._codes[name].known)))
            shift += width
        return pa.table({**{n: codes[n] for n in self.names}, COUNT: self._counts})

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
            codes, known = whole(coded.column(n)), self._codes[n].known
            if encoded:
                index = pa.from_numpy_dtype(index_type(len(known)))
                values[n] = pa.DictionaryArray.from_arrays(codes.cast(index), known)
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


def _widths(cards: Sequence[int]) -> list[int] | None:
    """Bits per column for packed keys: room for four times the values seen, else just
    enough; None if even that is more than 63 bits."""
    for room in (4, 1):
        widths = [max(1, (max(card, 1) * room - 1).bit_length()) for card in cards]
        if sum(widths) <= 63:
            return widths
    return None


def index_type(values: int) -> type[np.signedinteger]:
    """The narrowest signed integer type (as Arrow's dictionary indices must be) that
    numbers `values` distinct values."""
    for dtype in (np.int8, np.int16, np.int32):
        if values <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def whole(column: pa.ChunkedArray) -> pa.Array:
    """One array, without the copy `combine_chunks` makes even of a single chunk (a
    copy into Arrow's pool, which keeps freed pages for a while)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


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
            self.stages = []  # the table answers every lookup
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


def class_ids(codes: Sequence, cards: Sequence[int]) -> tuple[np.ndarray, int]:
    """Dense class ids of code tuples (numbered in the tuples' sorted order, as
    `ClassEncoder` numbers them) and how many: one pass over a mixed-radix key when the
    key fits in 62 bits, else column by column. A code column may be given as a callable
    that returns it, so only one column is held at a time."""
    space = float(np.prod(np.array(cards, dtype=np.float64)))
    if space >= 2**62:
        encoder = ClassEncoder([c() if callable(c) else c for c in codes], cards)
        return encoder.ids, encoder.classes
    key = None
    for code, card in zip(codes, cards, strict=True):
        code = code() if callable(code) else code
        key = code.astype(np.int64) if key is None else key * card + code
    valid, ids = _unique_inverse(key, int(space))
    return ids, len(valid)


def sizes_by_sort(codes: Sequence, cards: Sequence[int], weights: np.ndarray) -> np.ndarray | None:
    """Rows per class (`weights` summed over equal code tuples, in sorted order) by
    sorting keys that carry their weight in the low bits: no inverse array, and a plain
    sort is several times faster than an argsort. None when key and weight outgrow 63
    bits. Code columns may be callables, as for `class_ids`."""
    shift = max(int(weights.max()).bit_length(), 1) if len(weights) else 1
    if float(np.prod(np.array(cards, dtype=np.float64))) * 2.0**shift >= 2.0**62:
        return None
    key = np.zeros(len(weights), dtype=np.int64)
    for code, card in zip(codes, cards, strict=True):
        key *= card
        key += code() if callable(code) else code
    return sorted_sizes(key, weights, shift)


def sorted_sizes(key: np.ndarray, weights: np.ndarray | None, shift: int) -> np.ndarray:
    """Sizes of the runs of equal keys after sorting; with `weights`, `key` holds class
    keys to be shifted left by `shift` to carry the weights (it is reused in place),
    else the weights are already in its low `shift` bits."""
    return sorted_classes(key, weights, shift)[0]


def sorted_classes(
    key: np.ndarray, weights: np.ndarray | None, shift: int
) -> tuple[np.ndarray, np.ndarray]:
    """`sorted_sizes`, and each run's class key (the key without its weight bits)."""
    if weights is not None:
        key <<= shift
        key |= weights.astype(np.int64, copy=False)
    key.sort()
    if not len(key):
        return key, key
    cls = key >> shift
    starts = np.flatnonzero(np.concatenate(([True], cls[1:] != cls[:-1])))
    classes = cls[starts]
    del cls
    key &= (1 << shift) - 1
    return np.add.reduceat(key, starts, dtype=np.int64), classes


SPLIT_UNIQUE = 1 << 18  # keys from which `unique_counts` sorts two ranges side by side


def unique_counts(key: np.ndarray, pool: Executor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(key, return_counts=True)`; with `pool`, many keys are split at a sampled
    median into a lower and an upper range, each sorted on a worker (numpy's sort releases
    the GIL), and the two results simply follow each other."""
    if pool is None or len(key) < SPLIT_UNIQUE:
        return np.unique(key, return_counts=True)
    sample = np.sort(key[:: len(key) // 1024])
    lower = key < sample[len(sample) // 2]
    ranges = [key[lower], key[~lower]]
    del lower
    done = list(pool.map(lambda part: np.unique(part, return_counts=True), ranges))
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def _unique_inverse(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, return_inverse=True)` for keys in [0, bound): by a table of the
    keys present when that is small enough, else by sorting."""
    if not len(keys) or bound > max(ClassEncoder.DENSE, 4 * len(keys)):
        return np.unique(keys, return_inverse=True)
    present = np.zeros(bound, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present, dtype=np.int32 if len(keys) < 2**31 else np.int64) - 1
    return np.flatnonzero(present), rank[keys]
