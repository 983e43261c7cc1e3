"""The body of a DP query. Limits on epsilon and delta are checked by the query itself,
so a refusal names the limit (the minimum and maximum epsilon per query)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from desensitize.dp import MAX_QUERY_EPSILON, MIN_QUERY_EPSILON
from desensitize.dp.accounting import MAX_DELTA
from exchange.api.schemas.examples import ACCOUNTING, LEASE_ID

# Stated in the OpenAPI schema only; the query checks them and names the limit it breaks.
_EPSILON_LIMITS: JsonDict = {
    "minimum": float(MIN_QUERY_EPSILON),
    "maximum": float(MAX_QUERY_EPSILON),
}
_DELTA_LIMITS: JsonDict = {"exclusiveMinimum": 0, "maximum": float(MAX_DELTA)}


class QueryCreate(BaseModel):
    """One DP aggregate over the lease's desensitized rows, charged to its epsilon."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"op": "count", "epsilon": 0.1},
                {
                    "op": "group_sum",
                    "column": "monthly_income",
                    "by": "district",
                    "bounds": [0, 100000],
                    "groups": ["福田区", "南山区", "罗湖区"],
                    "max_groups": 1,
                    "epsilon": 0.5,
                },
            ]
        }
    )

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


class QueryResult(BaseModel):
    """A DP answer and its accounting record; the lease's remaining epsilon after it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "op": "count",
                    "columns": [],
                    "value": 118,
                    "epsilon": 0.1,
                    "delta": 0.0,
                    "unit": "one row = one person",
                    "accounting": ACCOUNTING,
                    "lease_epsilon_remaining": 0.9,
                }
            ]
        }
    )

    op: str
    columns: list[str] = Field(description="the columns the query read")
    value: Any = Field(
        description="a number, or for histograms and group queries an object of counts or sums"
    )
    epsilon: float
    delta: float
    unit: str = Field(description="the privacy unit: what one person's contribution is")
    accounting: dict[str, Any] = Field(
        description="mechanism, sensitivity and exact epsilon and delta, as logged"
    )
    lease_epsilon_remaining: float


class QueryBudget(BaseModel):
    """A lease's query allowance and every query charged to it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lease_id": LEASE_ID,
                    "epsilon_allowance": 1.0,
                    "epsilon_spent": 0.1,
                    "epsilon_remaining": 0.9,
                    "epsilon_spent_by_queries": 0.1,
                    "delta_allowance": 1e-06,
                    "delta_spent": 0.0,
                    "delta_spent_exact": "0",
                    "delta_charged": 0.0,
                    "unit": "micro epsilon, each query rounded up",
                    "queries": [
                        {
                            "at": "2026-11-26T18:19:44.615232+00:00",
                            **{k: v for k, v in ACCOUNTING.items() if k != "epsilon_micro"},
                            "epsilon_micro": 100000,
                        }
                    ],
                }
            ]
        }
    )

    lease_id: str
    epsilon_allowance: float
    epsilon_spent: float
    epsilon_remaining: float
    epsilon_spent_by_queries: float
    delta_allowance: float
    delta_spent: float
    delta_spent_exact: str = Field(description="delta spent as an exact fraction")
    delta_charged: float
    unit: str
    queries: list[dict[str, Any]] = Field(
        description="each query's time, operation, epsilon in micro units and accounting record"
    )
