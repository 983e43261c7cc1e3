"""Every numeric and date input is bounded: an extreme value is a 4xx naming the field,
never a 500, nothing is half-written, and the OpenAPI schema states the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from exchange.db.models import Dataset, Lease, Offer
from tests.exchange.conftest import upload
from tests.exchange.flows import POLICY, offer_body, publish

INT64_MAX = 2**63 - 1


def refused(response, field: str) -> dict[str, Any]:
    """A 4xx whose message names ``field``."""
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert field in error["message"], error
    return error


def count(world, model) -> int:
    with world.exchange.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def set_rows(world, dataset_id: str, rows: int) -> None:
    """Pretend the dataset is far larger than the test's file."""
    with world.exchange.sessions() as session:
        session.execute(update(Dataset).where(Dataset.id == dataset_id).values(rows=rows))
        session.commit()


@pytest.fixture
def dataset_with_policy(world, citizens_small) -> str:
    response = upload(world, citizens_small.head(300))
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY)
    assert response.status_code == 200, response.text
    return dataset_id


@pytest.fixture
def offer_id(world, citizens_small) -> str:
    return publish(world, citizens_small.head(300))[1]


SHARES = {"provider": 8000, "platform": 1500, "subject_pool": 500}
OFFER_CASES = {
    "an offer priced 10^30 fen per 1,000 rows": (
        {"pricing": {"base_minor_per_1000_rows": 10**30}},
        "pricing.base_minor_per_1000_rows",
    ),
    "an offer priced above 10^12 fen per 1,000 rows": (
        {"pricing": {"base_minor_per_1000_rows": 10**12 + 1}},
        "pricing.base_minor_per_1000_rows",
    ),
    "a negative price": (
        {"pricing": {"base_minor_per_1000_rows": -20_000}},
        "pricing.base_minor_per_1000_rows",
    ),
    "a negative minimum price": (
        {"pricing": {"base_minor_per_1000_rows": 20_000, "minimum_minor": -1}},
        "pricing.minimum_minor",
    ),
    "a minimum price of 10^30 fen": (
        {"pricing": {"base_minor_per_1000_rows": 20_000, "minimum_minor": 10**30}},
        "pricing.minimum_minor",
    ),
    "k of 10^9": ({"k": 10**9}, "k"),
    "k of 0": ({"k": 0}, "k"),
    "an epsilon cap of 1e300": ({"epsilon_cap": 1e300}, "epsilon_cap"),
    "a negative epsilon cap": ({"epsilon_cap": -1.0}, "epsilon_cap"),
    "shares summing over 10000 basis points": (
        {"shares_bp": {**SHARES, "provider": 9000}},
        "shares_bp",
    ),
    "one share above 10000 basis points offset by a negative one": (
        {"shares_bp": {"provider": 20_000, "platform": -10_000}},
        "shares_bp",
    ),
    "a share of 10^30 basis points": ({"shares_bp": {**SHARES, "provider": 10**30}}, "shares_bp"),
    "a longest period of 10^6 days": (
        {"terms": {"allowed_purposes": ["traffic-planning"], "max_period_days": 10**6}},
        "terms.max_period_days",
    ),
    "no downloads allowed": (
        {"terms": {"allowed_purposes": ["traffic-planning"], "max_downloads": 0}},
        "terms.max_downloads",
    ),
    "10^9 downloads allowed": (
        {"terms": {"allowed_purposes": ["traffic-planning"], "max_downloads": 10**9}},
        "terms.max_downloads",
    ),
}


@pytest.mark.parametrize(("overrides", "field"), OFFER_CASES.values(), ids=OFFER_CASES.keys())
def test_an_offer_with_an_extreme_number_is_refused_naming_the_field_and_nothing_is_written(
    world, dataset_with_policy, overrides, field
):
    body = offer_body(dataset_with_policy, **overrides)
    refused(world.call("provider", "POST", "/v1/offers", json=body), field)
    assert count(world, Offer) == 0
    dataset = world.call("provider", "GET", f"/v1/datasets/{dataset_with_policy}").json()
    assert dataset["epsilon_cap_set_at"] is None  # the refused offer set no budget


def far(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


LEASE_CASES = {
    "a start in the year 9999": ({"starts_at": "9999-12-01T00:00:00Z"}, "starts_at"),
    "a start on the last representable day": (
        {"starts_at": "9999-12-31T23:59:59+00:00", "days": 3660},
        "starts_at",
    ),
    "a start two years ahead": ({"starts_at": far(730)}, "starts_at"),
    "a start without a timezone": ({"starts_at": "2030-01-01T00:00:00"}, "starts_at"),
    "a start in the year 1": ({"starts_at": "0001-01-01T00:00:00Z"}, "starts_at"),
    "a start given as a huge number": ({"starts_at": 10**20}, "starts_at"),
    "zero days": ({"days": 0}, "days"),
    "10^6 days": ({"days": 10**6}, "days"),
    "negative days": ({"days": -30}, "days"),
    "an epsilon of 1e300": ({"epsilon": 1e300}, "epsilon"),
    "a negative epsilon": ({"epsilon": -1.0}, "epsilon"),
}


@pytest.mark.parametrize("path", ["/v1/leases", "/v1/quotes"])
@pytest.mark.parametrize(("extra", "field"), LEASE_CASES.values(), ids=LEASE_CASES.keys())
def test_a_lease_or_quote_with_an_extreme_number_or_date_is_refused_and_no_lease_is_written(
    world, offer_id, path, extra, field
):
    body = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, **extra}
    refused(world.call("buyer", "POST", path, json=body), field)
    assert count(world, Lease) == 0
    assert world.call("buyer", "GET", "/v1/leases").json() == []


def test_a_start_within_the_year_ahead_is_accepted(world, offer_id):
    body = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, "starts_at": far(300)}
    response = world.call("buyer", "POST", "/v1/leases", json=body)
    assert response.status_code == 201, response.text


POLICY_CASES = {
    "k of 10^9": ({"k": 10**9}, "'k'"),
    "k of 0": ({"k": 0}, "'k'"),
    "l of 10^9": ({"l_diversity": {"column": "household_size", "l": 10**9}}, "'l'"),
    "a suppression share of 1.5": ({"max_suppression": 1.5}, "'max_suppression'"),
    "a privacy unit of 10^9 rows per person": (
        {"privacy_unit": {"column": "citizen_id", "max_rows": 10**9}},
        "'max_rows'",
    ),
}


@pytest.mark.parametrize(("overrides", "field"), POLICY_CASES.values(), ids=POLICY_CASES.keys())
def test_a_policy_with_an_extreme_number_is_refused_naming_it_and_not_saved(
    world, citizens_small, overrides, field
):
    response = upload(world, citizens_small.head(100))
    dataset_id = response.json()["id"]
    policy = {**POLICY, **overrides}
    refused(world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy), field)
    assert world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()["policy"] is None


@pytest.mark.parametrize("epsilon_cap", [1e300, -1.0, 1001.0])
def test_a_budget_request_with_an_extreme_epsilon_cap_is_refused(
    world, citizens_small, epsilon_cap
):
    dataset_id, _ = publish(world, citizens_small.head(300))
    body = {"epsilon_cap": epsilon_cap, "reason": "more queries"}
    url = f"/v1/datasets/{dataset_id}/budget-requests"
    refused(world.call("provider", "POST", url, json=body), "epsilon_cap")
    assert world.call("operator", "GET", "/v1/budget-requests").json() == []


def test_an_offer_whose_dearest_lease_overflows_64_bits_is_refused_naming_the_price(
    world, dataset_with_policy
):
    set_rows(world, dataset_with_policy, 10**13)
    body = offer_body(dataset_with_policy, pricing={"base_minor_per_1000_rows": 10**12})
    error = refused(world.call("provider", "POST", "/v1/offers", json=body), "pricing")
    assert error["code"] == "price_too_large"
    assert str(INT64_MAX) in error["message"]
    assert count(world, Offer) == 0


@pytest.mark.parametrize("path", ["/v1/leases", "/v1/quotes"])
def test_a_lease_whose_quote_overflows_64_bits_is_refused_and_not_written(
    world, citizens_small, path
):
    dataset_id, offer_id = publish(world, citizens_small.head(300))
    set_rows(world, dataset_id, 10**17)  # the dataset grew after the offer was published
    body = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30}
    error = refused(world.call("buyer", "POST", path, json=body), "pricing")
    assert error["code"] == "price_too_large"
    assert count(world, Lease) == 0


def schema_of(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    return openapi["components"]["schemas"][name]["properties"]


def nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an ``X | None`` property."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            return branch
    raise AssertionError(prop)


BOUNDS = {
    "an offer's price per 1,000 rows": ("OfferPricing", "base_minor_per_1000_rows", 1, 10**12),
    "an offer's minimum price": ("OfferPricing", "minimum_minor", 0, 10**12),
    "an offer's longest period": ("OfferTerms", "max_period_days", 1, 3660),
    "an offer's downloads": ("OfferTerms", "max_downloads", 1, 1000),
    "an offer's k": ("OfferCreate", "k", 1, 10**6),
    "an offer's epsilon cap": ("OfferCreate", "epsilon_cap", 0, 1000),
    "a lease's days": ("LeaseCreate", "days", 1, 3660),
    "a lease's epsilon": ("LeaseCreate", "epsilon", 0, 100),
    "a quote's days": ("QuoteCreate", "days", 1, 3660),
    "a budget request's epsilon cap": ("BudgetRequestCreate", "epsilon_cap", 0, 1000),
    "a query's epsilon": ("QueryCreate", "epsilon", 0.001, 10),
    "a query's bins": ("QueryCreate", "bins", 1, 1000),
}


@pytest.mark.parametrize(("model", "field", "low", "high"), BOUNDS.values(), ids=BOUNDS.keys())
def test_the_openapi_schema_states_the_limits(world, model, field, low, high):
    openapi = world.client.get("/openapi.json").json()
    prop = nullable(schema_of(openapi, model)[field])
    assert prop["minimum"] == low and prop["maximum"] == high


def test_the_openapi_schema_states_the_share_limits_and_the_start_format(world):
    openapi = world.client.get("/openapi.json").json()
    shares = schema_of(openapi, "OfferCreate")["shares_bp"]["additionalProperties"]
    assert shares["minimum"] == 0 and shares["maximum"] == 10_000
    starts = nullable(schema_of(openapi, "LeaseCreate")["starts_at"])
    assert starts["format"] == "date-time"
    assert "366 days" in schema_of(openapi, "LeaseCreate")["starts_at"]["description"]
    delta = schema_of(openapi, "QueryCreate")["delta"]
    assert delta["exclusiveMinimum"] == 0 and delta["maximum"] == 1e-6


@pytest.mark.parametrize(
    "url",
    [
        "/v1/audit/proofs/inclusion?index=7790",
        "/v1/audit/proofs/inclusion?index=0&size=7790",
        "/v1/audit/proofs/consistency?old_size=7790",
        "/v1/audit/proofs/consistency?old_size=1&new_size=7790",
    ],
)
def test_a_proof_past_the_end_of_the_log_is_a_404_not_yet(world, url):
    answer = world.call("auditor", "GET", url)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found"
