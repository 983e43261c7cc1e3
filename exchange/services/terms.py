"""The bridge from stored offers and leases to licence decisions, quotes and agreements."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from desensitize import Policy
from exchange.db.models import Account, Dataset, Lease, Offer
from exchange.errors import Conflict, Invalid

PURPOSES = (
    "traffic_planning",
    "public_service",
    "academic_research",
    "commercial_analytics",
    "model_training",
)
QUOTE_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class GrantDecision:
    automatic: bool
    reason: str


def validate_offer_terms(terms: dict[str, Any]) -> dict[str, Any]:
    unknown = [p for p in terms.get("allowed_purposes", []) if p not in PURPOSES]
    if unknown:
        raise Invalid(
            f"terms.allowed_purposes: unknown purpose {', '.join(unknown)}; "
            f"choose from {', '.join(PURPOSES)}"
        )
    return dict(terms)


def validate_pricing(pricing: dict[str, Any]) -> dict[str, Any]:
    return dict(pricing)


def decide(
    *,
    offer: Offer,
    dataset: Dataset,
    purpose: str,
    starts_at: datetime,
    ends_at: datetime,
    columns: list[str],
    epsilon: float,
) -> GrantDecision:
    """Data Security Law grades: core never, important with approval, general automatically."""
    if dataset.grade == "core":
        raise Conflict("core data is never leasable", code="not_leasable")
    allowed = offer.terms.get("allowed_purposes", [])
    if purpose not in allowed:
        raise Invalid(
            f"purpose {purpose!r} is not allowed by offer {offer.id}; "
            f"allowed purposes: {', '.join(allowed)}"
        )
    days = (ends_at - starts_at).days
    if days > int(offer.terms.get("max_period_days", 90)):
        raise Invalid(
            f"a period of {days} days exceeds the offer's maximum of "
            f"{offer.terms.get('max_period_days')} days"
        )
    if dataset.grade == "important":
        return GrantDecision(False, "important data: waiting for the provider's approval")
    return GrantDecision(True, "general data: the request fits the offer, granted automatically")


# Multipliers in basis points (10,000 = x1), so every step is exact integer arithmetic.
ROW_TIERS_BP = ((10_000, 5_000), (100_000, 8_000), (1_000_000, 10_000), (None, 14_000))
CLASS_WEIGHT_BP = {
    "identifier": 1_000,
    "quasi_identifier": 1_200,
    "sensitive": 1_500,
    "attribute": 600,
}
GRADE_BP = {"general": 10_000, "important": 15_000}
EXCLUSIVE_BP = 30_000
BP = 10_000


def _rows_bp(rows: int) -> int:
    for limit, bp in ROW_TIERS_BP:
        if limit is None or rows <= limit:
            return bp
    raise AssertionError("unreachable")


def make_quote(
    *,
    offer: Offer,
    dataset: Dataset,
    policy: Policy,
    columns: list[str],
    days: int,
    epsilon: float,
    now: datetime,
) -> dict[str, Any]:
    """A deterministic, itemised price in fen; the same inputs always give the same total."""
    specs = policy.to_dict()["columns"]
    pricing = offer.pricing
    base = int(pricing["base_price_minor"])
    eps_milli = round(epsilon * 1000)
    factors = [
        ("base_price", base, "minor", "the offer's price for the whole table, 30 days, ε≤1"),
        ("volume", _rows_bp(dataset.rows), "bp", f"{dataset.rows} rows: volume tier"),
        (
            "columns",
            sum(CLASS_WEIGHT_BP.get(specs[c].get("class"), 600) for c in columns),
            "bp",
            f"{len(columns)} columns weighted by class (QI and sensitive cost more)",
        ),
        ("grade", GRADE_BP.get(dataset.grade, BP), "bp", f"{dataset.grade} data"),
        ("period", days * BP // 30, "bp", f"{days} days against a 30-day base"),
        (
            "privacy_budget",
            BP + max(0, eps_milli - 1000) * 5,
            "bp",
            f"ε={epsilon:g}: each ε above 1 adds 50%, more accuracy costs more",
        ),
        (
            "exclusivity",
            EXCLUSIVE_BP if pricing.get("exclusive") else BP,
            "bp",
            "exclusive" if pricing.get("exclusive") else "non-exclusive",
        ),
    ]
    total = base
    for _, value, _unit, _ in factors[1:]:
        total = total * value // BP  # floor at each step, in the buyer's favour
    minimum = int(pricing.get("minimum_price_minor", 0))
    applied_minimum = total < minimum
    total = max(total, minimum)
    inputs = {
        "offer": offer.id,
        "dataset_rows": dataset.rows,
        "columns": columns,
        "days": days,
        "epsilon_milli": eps_milli,
        "pricing": pricing,
        "grade": dataset.grade,
    }
    return {
        "id": "q_" + _fingerprint(inputs)[:24],
        "offer_id": offer.id,
        "currency": "CNY",
        "total_minor": total,
        "minimum_applied": applied_minimum,
        "factors": [{"name": n, "value": v, "unit": u, "explanation": e} for n, v, u, e in factors],
        "expires_at": (now + QUOTE_TTL).isoformat(),
    }


def agreement(*, offer: Offer, dataset: Dataset, lease: Lease, buyer: Account) -> dict[str, Any]:
    """The lease as a W3C ODRL 2.2 Agreement (JSON-LD)."""
    terms = offer.terms
    period = [
        {
            "leftOperand": "dateTime",
            "operator": "gteq",
            "rightOperand": {"@value": lease.starts_at.isoformat(), "@type": "xsd:dateTime"},
        },
        {
            "leftOperand": "dateTime",
            "operator": "lt",
            "rightOperand": {"@value": lease.ends_at.isoformat(), "@type": "xsd:dateTime"},
        },
        {"leftOperand": "purpose", "operator": "eq", "rightOperand": lease.purpose},
        {"leftOperand": "spatial", "operator": "eq", "rightOperand": terms.get("territory", "CN")},
    ]
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": f"urn:datalease:lease:{lease.id}",
        "assigner": f"urn:datalease:account:{offer.provider_id}",
        "assignee": f"urn:datalease:account:{buyer.id}",
        "target": f"urn:datalease:dataset:{dataset.id}",
        "permission": [
            {"action": "use", "constraint": period},
            {
                "action": "reproduce",
                "constraint": [
                    *period,
                    {
                        "leftOperand": "count",
                        "operator": "lteq",
                        "rightOperand": lease.max_downloads,
                    },
                ],
            },
        ],
        "prohibition": [{"action": p} for p in terms.get("prohibitions", [])],
        "obligation": [
            {
                "action": "delete",
                "constraint": [
                    {
                        "leftOperand": "dateTime",
                        "operator": "gteq",
                        "rightOperand": {
                            "@value": lease.ends_at.isoformat(),
                            "@type": "xsd:dateTime",
                        },
                    }
                ],
            }
        ],
    }


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
