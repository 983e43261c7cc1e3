"""Generalization ladders: each level coarser than the one before, '*' at the top.

Every ladder renders any level from its level-0 `base` alone, which is what lets
k-anonymity search levels over counts of base values instead of the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.errors import DataError
from desensitize.rules.base import Context, Ladder, as_text, fixed_width_text, map_distinct, stars

__all__ = ["Geohash", "Grid", "Hierarchy", "NumericBins", "Prefix", "TimeTruncation"]

STAR = "*"


def _floats(values: pa.Array) -> np.ndarray:
    floats = pc.cast(values, pa.float64()) if values.type != pa.float64() else values
    return pc.fill_null(floats, np.nan).to_numpy(zero_copy_only=False)


def _ints(values: np.ndarray) -> pa.Array:
    missing = ~np.isfinite(values)
    return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)


def _number_text(values: np.ndarray) -> pa.Array:
    # Rounding hides binary noise such as 0.30000000000000004 in interval labels.
    return pc.cast(pa.array(np.round(values, 10)), pa.string())


def _padded(numbers: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(numbers, pa.string()), width, "0")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


class NumericBins(Ladder):
    """Half-open intervals of a fixed `width` (doubling per level) or between `edges`."""

    def __init__(
        self, *, width: float | None = None, edges: Sequence[float] | None = None, doublings=20
    ) -> None:
        self.width = width
        self.edges = np.asarray(edges, dtype=np.float64) if edges is not None else None
        if self.edges is not None:
            doublings = int(np.ceil(np.log2(len(self.edges) + 1)))
            self.labels = (*(f"bins x{2**i}" for i in range(doublings + 1)), STAR)
        else:
            self.labels = (*(f"width {width * 2**i:g}" for i in range(doublings + 1)), STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        x = _floats(values)
        if self.edges is None:
            return _ints(np.floor(x / self.width))
        index = np.searchsorted(self.edges, x, side="right").astype(np.float64)
        return _ints(np.where(np.isnan(x), np.nan, index))

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level >= self.top:
            return stars(len(base))
        return map_distinct(base, lambda distinct: self._render(distinct, level))

    def _render(self, distinct: pa.Array, level: int) -> pa.Array:
        index = distinct.to_numpy(zero_copy_only=False)
        span = 2**level
        if self.edges is None:
            lower = np.floor_divide(index, span) * span * self.width
            upper = lower + span * self.width
        else:
            bounds = np.concatenate([[-np.inf], self.edges, [np.inf]])
            first = (index // span) * span
            lower, upper = bounds[first], bounds[np.minimum(first + span, len(bounds) - 1)]
        return _join("[", _number_text(lower), ", ", _number_text(upper), ")")


class TimeTruncation(Ladder):
    """Dates and times as text truncated to hour, day, month, year or decade.

    The base is the timestamp floored to the policy's unit, a number: counting and
    searching never format text, and only the chosen level's distinct values are.
    """

    UNITS = ("hour", "day", "month", "year", "decade")

    def __init__(self, to: str, column: str) -> None:
        self.to, self.column = to, column
        self.labels = (*self.UNITS[self.UNITS.index(to) :], STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        return pc.floor_temporal(self._timestamps(values), unit=_floor_unit(self.to))

    def at(self, base: pa.Array, level: int) -> pa.Array:
        unit = self.labels[level]
        if unit == STAR:
            return stars(len(base))
        floored = pc.floor_temporal(base, unit=_floor_unit(unit))
        return map_distinct(floored, lambda distinct: _label(distinct, unit))

    def _timestamps(self, values: pa.Array) -> pa.Array:
        if pa.types.is_timestamp(values.type):
            return values
        try:
            return pc.cast(values, pa.timestamp("s"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(f"column {self.column!r}: values are not dates or times") from exc


def _floor_unit(unit: str) -> str:
    return "year" if unit == "decade" else unit


def _label(stamps: pa.Array, unit: str) -> pa.Array:
    """'YYYY-MM-DD HH' cut to the unit, or 'YYY0s' for a decade, from the date fields."""
    year = _padded(pc.year(stamps), 4)
    if unit == "decade":
        return _join(pc.utf8_slice_codeunits(year, 0, 3), "0s")
    parts = [year]
    for field, separator in (("month", "-"), ("day", "-"), ("hour", " ")):
        if TimeTruncation.UNITS.index(field) < TimeTruncation.UNITS.index(unit):
            break
        parts += [separator, _padded(getattr(pc, field)(stamps), 2)]
    return _join(*parts)


class Prefix(Ladder):
    """Keep the first `keep` characters and pad the rest, one fewer kept per level."""

    def __init__(self, keep: int, pad: str = STAR) -> None:
        self.keep, self.pad = keep, pad
        self.labels = (*(f"prefix {n}" for n in range(keep, -1, -1)), STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        return self._cut(as_text(values), self.keep)

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level >= self.top:
            return stars(len(base))
        return base if level == 0 else self._cut(base, self.keep - level)

    def _cut(self, text: pa.Array, keep: int) -> pa.Array:
        padding = pc.max_element_wise(pc.subtract(pc.utf8_length(text), keep), 0)
        return _join(pc.utf8_slice_codeunits(text, 0, keep), pc.binary_repeat(self.pad, padding))


class Grid(Ladder):
    """Numbers (e.g. coordinates) floored to a grid of `decimals` decimals, one fewer per level."""

    def __init__(self, decimals: int) -> None:
        self.decimals = decimals
        self.labels = (*(f"decimals {d}" for d in range(decimals, -1, -1)), STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        return _ints(np.floor(_floats(values) * 10.0**self.decimals))

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level >= self.top:
            return stars(len(base))
        cells = base.to_numpy(zero_copy_only=False).astype(np.float64)
        kept = self.decimals - level
        value = np.round(np.floor(cells / 10.0**level) / 10.0**kept, kept)
        return pa.array(value, mask=base.is_null().to_numpy(zero_copy_only=False))


class Geohash(Ladder):
    """'lat,lon' text as a geohash of `precision` characters, one shorter per level."""

    _ALPHABET = np.frombuffer(b"0123456789bcdefghjkmnpqrstuvwxyz", dtype=np.uint8)

    def __init__(self, precision: int, column: str) -> None:
        self.precision, self.column = precision, column
        self.labels = (*(f"geohash {p}" for p in range(precision, 0, -1)), STAR)

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        parts = pc.split_pattern(as_text(values), ",")
        try:
            lat = _floats(pc.cast(pc.utf8_trim_whitespace(pc.list_element(parts, 0)), pa.float64()))
            lon = _floats(pc.cast(pc.utf8_trim_whitespace(pc.list_element(parts, 1)), pa.float64()))
        except (pa.ArrowInvalid, IndexError) as exc:
            raise DataError(f"column {self.column!r}: values are not 'lat,lon' pairs") from exc
        missing = np.isnan(lat) | np.isnan(lon)
        if np.any((np.abs(lat) > 90) | (np.abs(lon) > 180)):
            raise DataError(f"column {self.column!r}: coordinates out of range")
        hashes = self._encode(lat, lon)
        if not missing.any():
            return hashes
        return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), hashes)

    def _encode(self, lat: np.ndarray, lon: np.ndarray) -> pa.Array:
        bits = 5 * self.precision
        lon_bits, lat_bits = (bits + 1) // 2, bits // 2
        lon_cell = _cell(lon, -180.0, 360.0, lon_bits)
        lat_cell = _cell(lat, -90.0, 180.0, lat_bits)
        code = np.zeros(len(lat), dtype=np.uint64)
        for i in range(bits):  # interleave: even bits from longitude, odd from latitude
            cell, width = (lon_cell, lon_bits) if i % 2 == 0 else (lat_cell, lat_bits)
            bit = (cell >> np.uint64(width - 1 - i // 2)) & np.uint64(1)
            code |= bit << np.uint64(bits - 1 - i)
        shifts = np.uint64(5) * np.arange(self.precision - 1, -1, -1, dtype=np.uint64)
        digits = (code[:, None] >> shifts) & np.uint64(31)
        return fixed_width_text(self._ALPHABET[digits])

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level >= self.top:
            return stars(len(base))
        return pc.utf8_slice_codeunits(base, 0, self.precision - level)


def _cell(value: np.ndarray, low: float, span: float, bits: int) -> np.ndarray:
    cells = np.floor((np.nan_to_num(value) - low) / span * 2.0**bits)
    return np.clip(cells, 0, 2.0**bits - 1).astype(np.uint64)


class Hierarchy(Ladder):
    """User-supplied categories, e.g. street -> district -> city, then '*'.

    Every value must have a parent at every level (a value already '*' stays '*'): one
    left out would otherwise become '*' without a word, so it is a DataError naming the
    column, the level and the values missing (their number only when the column's values
    must not be shown)."""

    MISSING_SHOWN = 10  # values named in the error, at most

    def __init__(
        self,
        maps: Sequence[Mapping[str, str]],
        level: int,
        names: Sequence[str],
        column: str = "",
        show_values: Callable[[], bool] = lambda: True,
    ) -> None:
        self.maps = [(pa.array(list(m), pa.string()), pa.array(list(m.values()))) for m in maps]
        self.level = level
        self.labels = (*names[level:], STAR)
        self.names = list(names)
        self.column, self.show_values = column, show_values

    def base(self, values: pa.Array, ctx: Context) -> pa.Array:
        return self._climb(as_text(values), 0, self.level)

    def at(self, base: pa.Array, level: int) -> pa.Array:
        if level >= self.top:
            return stars(len(base))
        return self._climb(base, self.level, self.level + level)

    def _climb(self, text: pa.Array, start: int, stop: int) -> pa.Array:
        for step, (keys, parents) in enumerate(self.maps[start:stop], start=start + 1):
            index = pc.index_in(text, value_set=keys)
            missing = pc.and_(pc.is_null(index), pc.not_equal(text, STAR))
            if pc.any(missing).as_py():
                self._missing(pc.unique(pc.filter(text, missing)), step)
            parent = parents.take(index)
            text = pc.if_else(pc.is_valid(text), pc.coalesce(parent, STAR), text)
        return text

    def _missing(self, values: pa.Array, step: int) -> None:
        what = f"{len(values)} value(s)"
        if self.show_values():
            shown = sorted(values.to_pylist())[: self.MISSING_SHOWN]
            more = ", ..." if len(values) > len(shown) else ""
            what += f" ({', '.join(map(repr, shown))}{more})"
        raise DataError(
            f"column {self.column!r}: {what} missing from mapping {step} of the hierarchy "
            f"({self.names[step - 1]!r} to {self.names[step]!r}); add them to it"
        )
