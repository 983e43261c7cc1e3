"""`keep`: release the column unchanged (refused for identifier and sensitive columns)."""

from __future__ import annotations

import pyarrow as pa

from desensitize.rules.base import Context, Rule

__all__ = ["Keep"]


class Keep(Rule):
    """Pass values through; as a quasi-identifier its ladder is the value, then '*'."""

    name = "keep"

    @property
    def releases_raw(self) -> bool:
        return True

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        return values
