"""Desensitize tables for lease: a policy maps each column to a rule, with k-anonymity,
l-diversity and differential privacy on top. A pure library: no web, no database."""

from __future__ import annotations

from desensitize import dp
from desensitize.engine import Desensitized, Report, apply
from desensitize.errors import (
    BudgetExceeded,
    DataError,
    DesensitizeError,
    KAnonymityError,
    PolicyError,
)
from desensitize.keys import Keyring
from desensitize.policy import ColumnPolicy, Policy
from desensitize.profile import Profile, profile
from desensitize.rules import RULES
from desensitize.stream import (
    BatchSource,
    ParquetSource,
    apply_batches,
    apply_stream,
    apply_table,
)
from desensitize.synthetic import synthetic_sample

__all__ = [
    "RULES",
    "BudgetExceeded",
    "ColumnPolicy",
    "DataError",
    "DesensitizeError",
    "Desensitized",
    "KAnonymityError",
    "Keyring",
    "Policy",
    "PolicyError",
    "Profile",
    "Report",
    "apply",
    "apply_stream",
    "apply_batches",
    "apply_table",
    "BatchSource",
    "ParquetSource",
    "dp",
    "profile",
    "synthetic_sample",
]
