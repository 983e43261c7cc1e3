"""Steps of the exchange story, shared by the service tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tests.exchange.conftest import World, upload

POLICY: dict[str, Any] = {
    "k": 3,
    "columns": {
        "citizen_id": {"class": "identifier", "rule": "token"},
        "name": {"class": "identifier", "rule": "token"},
        "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "address": {"class": "identifier", "rule": "fake", "kind": "address"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
        "gender": {"class": "quasi_identifier", "rule": "keep"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "household_size": {"class": "attribute", "rule": "keep"},
        "monthly_income": {
            "class": "sensitive",
            "rule": "noise",
            "epsilon": 1.0,
            "bounds": [0, 100000],
        },
        "email": {"class": "drop"},
        "card_id": {"class": "identifier", "rule": "token"},
    },
}


def offer_body(dataset_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "dataset_id": dataset_id,
        "title": "citizens, desensitized",
        "terms": {
            "allowed_purposes": ["traffic-planning", "academic-research"],
            "max_period_days": 120,
            "max_downloads": 3,
        },
        "pricing": {"base_minor_per_1000_rows": 20_000, "minimum_minor": 10_000},
        "shares_bp": {
            "provider": 7000,
            "party:futian-dc": 1000,
            "platform": 1500,
            "subject_pool": 500,
        },
        "epsilon_cap": 10.0,
        "k": 3,
    }
    body.update(overrides)
    return body


def publish(
    world: World,
    frame: pd.DataFrame,
    *,
    grade: str = "general",
    policy: dict[str, Any] | None = None,
    **offer: Any,
) -> tuple[str, str]:
    """Upload, set the policy, publish an offer; returns (dataset id, offer id)."""
    response = upload(world, frame, grade=grade)
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    response = world.call(
        "provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy or POLICY
    )
    assert response.status_code == 200, response.text
    response = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset_id, **offer))
    assert response.status_code == 201, response.text
    return dataset_id, response.json()["id"]


def lease(world: World, offer_id: str, *, who: str = "buyer", **extra: Any) -> dict[str, Any]:
    body = {
        "offer_id": offer_id,
        "purpose": "traffic-planning",
        "days": 30,
        "epsilon": 1.0,
        **extra,
    }
    response = world.call(who, "POST", "/v1/leases", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def paid_lease(world: World, offer_id: str, *, who: str = "buyer", **extra: Any) -> dict[str, Any]:
    created = lease(world, offer_id, who=who, **extra)
    response = world.call(who, "POST", f"/v1/leases/{created['id']}/pay")
    assert response.status_code == 200, response.text
    return response.json()
