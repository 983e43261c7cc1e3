"""`suppress`: blank a whole column, or blank (or drop) only the rows matching a condition."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from desensitize.rules.base import Context, Params, Rule, as_text

__all__ = ["Suppress"]


class Suppress(Rule):
    """Without `where`, every value becomes null; with it, matching values are nulled or,
    with `drop_rows`, their rows removed (other values pass through)."""

    name = "suppress"

    def configure(self, params: Params) -> None:
        where = params.raw("where")
        self.values: list | None = None
        self.pattern: str | None = None
        if where is not None:
            if (
                not isinstance(where, dict)
                or len(where) != 1
                or not {"in", "matches"} >= set(where)
            ):
                raise params.fail(
                    "parameter 'where' must be {'in': [values]} or {'matches': regex}"
                )
            self.values = where.get("in")
            self.pattern = where.get("matches")
            if self.values is not None and not isinstance(self.values, list):
                raise params.fail("parameter 'where.in' must be a list of values")
            if self.pattern is not None and not isinstance(self.pattern, str):
                raise params.fail("parameter 'where.matches' must be a regular expression string")
        self.drop = bool(params.raw("drop_rows", False))
        if self.drop and where is None:
            raise params.fail("parameter 'drop_rows' needs 'where' (which rows to drop)")

    @property
    def releases_raw(self) -> bool:
        return self.values is not None or self.pattern is not None

    def _matches(self, values: pa.Array) -> pa.Array:
        if self.pattern is not None:
            hit = pc.match_substring_regex(as_text(values), self.pattern)
        else:
            hit = pc.is_in(as_text(values), value_set=pa.array([str(v) for v in self.values]))
        return pc.fill_null(hit, False)

    @property
    def drops_rows(self) -> bool:
        return self.drop

    def drop_rows(self, values: pa.Array) -> pa.Array | None:
        return self._matches(values) if self.drop else None

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        if not self.releases_raw:
            return pa.nulls(len(values), values.type)
        if self.drop:
            return values
        return pc.if_else(self._matches(values), pa.scalar(None, values.type), values)
