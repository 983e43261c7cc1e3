"""The bridge from stored offers and leases to ``contracts``: grade decisions, quotes, ODRL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import ContractError
from contracts.licence import (
    Grade,
    LeaseRequest,
    Licence,
    Outcome,
    Purpose,
    Terms,
)
from contracts.licence import (
    decide as grade_decide,
)
from contracts.odrl import to_odrl
from contracts.pricing import ColumnKind, PriceList, QuoteRequest, quote
from desensitize import Policy
from exchange.db.models import Account, Dataset, Lease, Offer
from exchange.errors import Conflict, Invalid
from exchange.services.bounds import MAX_LEASE_EPSILON, MAX_PRICE_MINOR, MAX_STORED_INT

PURPOSES = tuple(p.value for p in Purpose)
KIND_OF_CLASS = {
    "identifier": ColumnKind.IDENTIFIER,
    "quasi_identifier": ColumnKind.QUASI_IDENTIFIER,
    "sensitive": ColumnKind.SENSITIVE,
    "attribute": ColumnKind.PLAIN,
}


@dataclass(frozen=True)
class GrantDecision:
    automatic: bool
    reason: str


def purpose(value: str) -> str:
    """The vocabulary's spelling ('traffic-planning'); underscores are accepted too."""
    canonical = value.strip().lower().replace("_", "-")
    if canonical not in PURPOSES:
        raise Invalid(f"purpose {value!r} is not in the vocabulary: {', '.join(PURPOSES)}")
    return canonical


def offer_terms(terms: dict[str, Any]) -> Terms:
    try:
        return Terms(
            allowed_purposes=frozenset(terms["allowed_purposes"]),
            permitted_uses=frozenset(terms["permitted_uses"]),
            prohibitions=frozenset(terms["prohibitions"]),
            territories=frozenset({terms["territory"]}),
            max_period_days=int(terms["max_period_days"]),
            max_downloads=int(terms["max_downloads"]),
            cross_lease_linking=bool(terms["link_across_leases"]),
        )
    except (ContractError, ValueError) as exc:
        raise Invalid(f"terms: {exc}") from None


def validate_offer_terms(terms: dict[str, Any]) -> dict[str, Any]:
    terms = {**terms, "allowed_purposes": [purpose(p) for p in terms["allowed_purposes"]]}
    offer_terms(terms)
    return terms


def price_list(pricing: dict[str, Any]) -> PriceList:
    try:
        return PriceList(
            base_minor_per_1000_rows=int(pricing["base_minor_per_1000_rows"]),
            minimum_minor=int(pricing.get("minimum_minor", 0)),
            validity=timedelta(minutes=15),
        )
    except (ContractError, ValueError) as exc:
        raise Invalid(f"pricing: {exc}") from None


def validate_pricing(pricing: dict[str, Any]) -> dict[str, Any]:
    for field in ("base_minor_per_1000_rows", "minimum_minor"):
        value = pricing.get(field, 0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_PRICE_MINOR
        ):
            raise Invalid(f"pricing.{field} must be an integer from 0 to {MAX_PRICE_MINOR} fen")
    price_list(pricing)
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
    request = LeaseRequest(
        purpose=Purpose(purpose),
        start=starts_at,
        end=ends_at,
        territory=offer.terms.get("territory", "CN"),
    )
    decision = grade_decide(Grade(dataset.grade), offer_terms(offer.terms), request)
    reasons = "; ".join(decision.reasons)
    if dataset.grade == "core":
        raise Conflict(reasons, code="not_leasable")
    if decision.outcome is Outcome.REFUSED:
        raise Invalid(
            f"the request does not fit offer {offer.id}: {reasons}", code="terms_violation"
        )
    return GrantDecision(decision.outcome is Outcome.AUTO_GRANT, reasons)


def epsilon_text(epsilon: float) -> str | None:
    """Epsilon as the decimal string contracts expects (never a float); None when zero."""
    text = f"{epsilon:.6f}".rstrip("0").rstrip(".")
    return None if text in ("0", "") else text


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
    """A deterministic, itemised price in fen from the offer's price list."""
    specs = policy.to_dict()["columns"]
    request = QuoteRequest(
        rows=max(dataset.rows, 1),
        columns={c: KIND_OF_CLASS.get(specs[c].get("class"), ColumnKind.PLAIN) for c in columns},
        grade=Grade(dataset.grade),
        start=now,
        end=now + timedelta(days=days),
        epsilon=epsilon_text(epsilon),
        exclusive=bool(offer.pricing.get("exclusive")),
    )
    priced = quote(price_list(offer.pricing), request, now=now)
    if priced.total_minor > MAX_STORED_INT:
        raise Invalid(
            f"pricing: the total of this lease, {priced.total_minor} fen, is above the largest "
            f"price the exchange can record ({MAX_STORED_INT} fen); lower the offer's "
            "pricing.base_minor_per_1000_rows, or lease fewer columns or days",
            code="price_too_large",
        )
    return {
        "id": priced.id,
        "offer_id": offer.id,
        "currency": priced.currency,
        "total_minor": priced.total_minor,
        "subtotal_minor": priced.subtotal_minor,
        "minimum_applied": priced.minimum_applied,
        "factors": [
            {
                "name": f.name,
                "numerator": f.numerator,
                "denominator": f.denominator,
                "explanation": f.explanation,
            }
            for f in priced.factors
        ],
        "issued_at": priced.issued_at.isoformat(),
        "expires_at": priced.expires_at.isoformat(),
    }


def check_largest_price(*, offer: Offer, dataset: Dataset, policy: Policy) -> None:
    """Refuse an offer whose dearest lease (every column, the longest period, the most
    epsilon a lease may ask for) could not be recorded: its price must fit in 64 bits."""
    specs = policy.to_dict()["columns"]
    columns = [c for c, spec in specs.items() if spec.get("class") != "drop"]
    noise = sum(
        float(specs[c].get("epsilon", 0)) for c in columns if specs[c].get("rule") == "noise"
    )
    try:
        make_quote(
            offer=offer,
            dataset=dataset,
            policy=policy,
            columns=columns,
            days=int(offer.terms["max_period_days"]),
            epsilon=MAX_LEASE_EPSILON + noise,
            now=datetime.now(UTC),
        )
    except Invalid as exc:
        if exc.code != "price_too_large":
            raise
        raise Invalid(
            "pricing.base_minor_per_1000_rows: the dearest lease of this offer (every column, "
            f"{offer.terms['max_period_days']} days) would cost more than the largest price "
            f"the exchange can record ({MAX_STORED_INT} fen); lower the price",
            code="price_too_large",
        ) from None


def agreement(*, offer: Offer, dataset: Dataset, lease: Lease, buyer: Account) -> dict[str, Any]:
    """The lease as a W3C ODRL 2.2 Agreement (JSON-LD)."""
    terms = offer_terms(offer.terms)
    licence = Licence(
        uid=f"urn:datalease:lease:{lease.id}",
        assigner=f"urn:datalease:account:{offer.provider_id}",
        assignee=f"urn:datalease:account:{buyer.id}",
        target=f"urn:datalease:dataset:{dataset.id}",
        grade=Grade(dataset.grade),
        purpose=Purpose(lease.purpose),
        purpose_text=lease.purpose_text,
        start=lease.starts_at,
        end=lease.ends_at,
        permitted_uses=terms.permitted_uses,
        prohibitions=terms.prohibitions,
        territory=offer.terms.get("territory", "CN"),
        max_downloads=lease.max_downloads,
        cross_lease_linking=terms.cross_lease_linking,
    )
    return to_odrl(licence)
