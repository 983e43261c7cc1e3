"""`generalize`: coarser values (bins, truncated dates, prefixes, grids, categories).

The parameters choose one ladder (see `ladders.py`); the rule's output is the
ladder's level 0, and k-anonymity may climb the same ladder further.
"""

from __future__ import annotations

import itertools

import pyarrow as pa

from desensitize.rules.base import Context, Ladder, Params, Rule
from desensitize.rules.ladders import (
    Geohash,
    Grid,
    Hierarchy,
    NumericBins,
    Prefix,
    TimeTruncation,
)

__all__ = ["Generalize"]

_NUMERIC = frozenset({"numeric"})
_TEXT = frozenset({"string", "numeric"})
# Each mode is named by the one parameter that selects it, with the column kinds it fits.
MODES = {
    "width": _NUMERIC,
    "edges": _NUMERIC,
    "to": frozenset({"temporal", "string"}),
    "prefix": _TEXT,
    "decimals": _NUMERIC,
    "geohash": frozenset({"string"}),
    "hierarchy": _TEXT,
}


class Generalize(Rule):
    """Coarsen a column along one ladder, starting at the level the policy asks for."""

    name = "generalize"

    def configure(self, params: Params) -> None:
        modes = [mode for mode in MODES if params.has(mode)]
        if len(modes) != 1:
            raise params.fail(f"needs exactly one of {', '.join(MODES)}; got {modes or 'none'}")
        self.mode = modes[0]
        self._ladder = getattr(self, f"_{self.mode}")(params)

    def _width(self, params: Params) -> Ladder:
        return NumericBins(width=params.number("width", positive=True))

    def _edges(self, params: Params) -> Ladder:
        edges = params.raw("edges")
        numbers = isinstance(edges, list) and edges and all(_is_number(e) for e in edges)
        if not numbers or any(b <= a for a, b in itertools.pairwise(edges)):
            raise params.fail("parameter 'edges' must be a non-empty increasing list of numbers")
        return NumericBins(edges=edges)

    def _to(self, params: Params) -> Ladder:
        return TimeTruncation(params.choice("to", TimeTruncation.UNITS), self.column)

    def _prefix(self, params: Params) -> Ladder:
        pad = params.text("pad", "*")
        if len(pad) != 1:
            raise params.fail(f"parameter 'pad' must be one character, got {pad!r}")
        return Prefix(params.integer("prefix"), pad)

    def _decimals(self, params: Params) -> Ladder:
        decimals = params.integer("decimals")
        if decimals > 12:
            raise params.fail(f"parameter 'decimals' must be at most 12, got {decimals}")
        return Grid(decimals)

    def _geohash(self, params: Params) -> Ladder:
        precision = params.integer("geohash", minimum=1)
        if precision > 12:
            raise params.fail(f"parameter 'geohash' must be at most 12, got {precision}")
        return Geohash(precision, self.column)

    def _hierarchy(self, params: Params) -> Ladder:
        maps = params.raw("hierarchy")
        well_formed = isinstance(maps, list) and maps and all(_is_text_map(m) for m in maps)
        if not well_formed:
            raise params.fail(
                "parameter 'hierarchy' must be a non-empty list of {value: parent} mappings "
                "of strings, one per level up"
            )
        self.level = params.integer("level", 0)
        if self.level > len(maps):
            raise params.fail(f"parameter 'level' must be at most {len(maps)}, got {self.level}")
        names = params.raw("names") or [f"hierarchy {i}" for i in range(len(maps) + 1)]
        if len(names) != len(maps) + 1 or not all(isinstance(n, str) for n in names):
            raise params.fail(f"parameter 'names' must list {len(maps) + 1} level names")
        return Hierarchy(maps, self.level, names, self.column, lambda: self.shows_values)

    @property
    def kinds(self) -> frozenset[str]:
        return MODES[self.mode]

    @property
    def text_input(self) -> bool:  # type: ignore[override]
        return self.mode in ("prefix", "geohash", "hierarchy")

    @property
    def releases_raw(self) -> bool:
        return self.mode == "hierarchy" and self.level == 0

    def ladder(self) -> Ladder:
        return self._ladder

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        return self._ladder.at(self._ladder.base(values, ctx), 0)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
