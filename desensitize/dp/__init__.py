"""Differentially private aggregate releases over a dataset with an epsilon budget, per
person: contribution bounds, exact accounting, and partition selection for group keys."""

from __future__ import annotations

from desensitize.dp.accounting import (
    MAX_QUERY_EPSILON,
    MIN_QUERY_EPSILON,
    AccountingRecord,
    micro_units,
)
from desensitize.dp.aggregates import Answer, answer_query, bounded_rows, run_query
from desensitize.dp.bounding import ONE_ROW_ONE_PERSON, Contribution
from desensitize.dp.budget import Budget
from desensitize.dp.query import OPS, Query, QueryError
from desensitize.dp.release import Release, release

__all__ = [
    "MAX_QUERY_EPSILON",
    "MIN_QUERY_EPSILON",
    "ONE_ROW_ONE_PERSON",
    "OPS",
    "AccountingRecord",
    "Answer",
    "Budget",
    "Contribution",
    "Query",
    "QueryError",
    "Release",
    "answer_query",
    "bounded_rows",
    "micro_units",
    "release",
    "run_query",
]
