"""The catalog as buyers see it, and price quotes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import (
    DATASET_ID,
    OFFER_ID,
    POLICY_HASH,
    QUOTE,
    RELEASE_ID,
    TERMS,
)


class QuoteFactor(BaseModel):
    """One multiplier of a price: ``numerator / denominator``, and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE["factors"][0]]})

    name: str
    numerator: int
    denominator: int
    explanation: str


class QuotePublic(BaseModel):
    """A deterministic, itemised price in fen: the total is the product of the factors
    (at least the offer's minimum), valid until `expires_at`."""

    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE]})

    id: str
    offer_id: str
    currency: str
    total_minor: int = Field(description="the price in minor units (fen)")
    subtotal_minor: int = Field(description="the product of the factors, before the minimum")
    minimum_applied: bool
    factors: list[QuoteFactor]
    issued_at: str = Field(description="ISO-8601 time")
    expires_at: str = Field(description="ISO-8601 time")


_ENTRY: dict[str, Any] = {
    "offer_id": OFFER_ID,
    "title": "citizens, desensitized",
    "dataset_id": DATASET_ID,
    "dataset_name": "citizens",
    "domain": "population",
    "grade": "general",
    "description": "registered residents of one district",
    "rows": 120,
    "k": 3,
    "schema": [
        {"name": "citizen_id", "class": "identifier", "rule": "token"},
        {"name": "district", "class": "quasi_identifier", "rule": "keep"},
    ],
    "terms": TERMS,
    "policy_hash": POLICY_HASH,
    "dp_queries": {"unit": "one row = one person"},
    "epsilon_cap": 50.0,
    "epsilon_remaining": 48.0,
    "indicative_price_minor": 96000,
    "indicative_terms": {"days": 30, "columns": "all", "epsilon": 1.0},
}


class CatalogEntry(BaseModel):
    """An active offer as the catalog lists it: the released schema with each column's
    class and rule, the terms, the budget left and an indicative price. No row."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY]})

    offer_id: str
    title: str
    dataset_id: str
    dataset_name: str
    domain: str
    grade: str
    description: str
    rows: int
    k: int
    schema_: list[dict[str, Any]] = Field(
        alias="schema", description="each column's name, class and rule"
    )
    terms: dict[str, Any]
    policy_hash: str | None
    dp_queries: dict[str, Any] = Field(description="the privacy unit DP queries count in")
    epsilon_cap: float
    epsilon_remaining: float
    indicative_price_minor: int
    indicative_terms: dict[str, Any] = Field(description="what the indicative price is for")


class CatalogEntryDetail(CatalogEntry):
    """One offer with a synthetic sample (no real row) and, once a release was made, the
    release gate's aggregate figures: risk after desensitization and per-column utility."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ENTRY,
                    "sample": {
                        "synthetic": True,
                        "note": "generated from the policy's output domain; "
                        "no row is a real record",
                        "columns": ["citizen_id", "district"],
                        "rows": [{"citizen_id": "tk_e92d08362d9042fc", "district": "<district 1>"}],
                    },
                    "release": {
                        "release_id": RELEASE_ID,
                        "rows": 116,
                        "rows_suppressed": 4,
                        "generalization": {"birth_date": "*", "district": "keep"},
                        "risk_after": {"k": 3, "smallest_class": 3, "k_anonymous": True},
                        "utility": {"rows_before": 120, "rows_after": 116, "columns": []},
                    },
                }
            ]
        }
    )

    sample: dict[str, Any] = Field(description="synthetic rows in the offer's output formats")
    release: dict[str, Any] | None = Field(
        default=None, description="present once a release was made: gate, risk and utility"
    )
