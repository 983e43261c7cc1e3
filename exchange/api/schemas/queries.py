"""The body of a DP query. Limits on epsilon and delta are checked by the query itself,
so a refusal names the limit (the minimum and maximum epsilon per query)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from desensitize.dp import MAX_QUERY_EPSILON, MIN_QUERY_EPSILON
from desensitize.dp.accounting import MAX_DELTA

# Stated in the OpenAPI schema only; the query checks them and names the limit it breaks.
_EPSILON_LIMITS: JsonDict = {"minimum": float(MIN_QUERY_EPSILON), "maximum": float(MAX_QUERY_EPSILON)}
_DELTA_LIMITS: JsonDict = {"exclusiveMinimum": 0, "maximum": float(MAX_DELTA)}


class QueryCreate(BaseModel):
    op: str = Field(description="count, sum, mean, histogram, group_count or group_sum")
    column: str | None = None
    by: str | None = None
    bounds: list[float] | None = None
    bins: int | None = Field(default=None, ge=1, le=1000)
    range: list[float] | None = None
    groups: list[str | int | float | bool] | None = Field(
        default=None,
        max_length=10_000,
        description="the public domain of group keys; without it keys come from DP "
        "partition selection, which also costs delta",
    )
    max_groups: int | None = Field(
        default=None, ge=1, le=1000, description="groups one person's rows may fall in"
    )
    delta: float | None = Field(
        default=None, description="for partition selection", json_schema_extra=_DELTA_LIMITS
    )
    epsilon: float = Field(
        description="between 0.001 and 10 per query", json_schema_extra=_EPSILON_LIMITS
    )
