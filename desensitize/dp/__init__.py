"""Differentially private aggregate releases over a dataset with an epsilon budget."""

from __future__ import annotations

from desensitize.dp.aggregates import run_query
from desensitize.dp.budget import Budget
from desensitize.dp.query import OPS, Query, QueryError
from desensitize.dp.release import AccountingRecord, Release, release

__all__ = [
    "OPS",
    "AccountingRecord",
    "Budget",
    "Query",
    "QueryError",
    "Release",
    "release",
    "run_query",
]
