"""Minors' data: a dataset of pupils' boardings records the guardians' consent it rests on,
and is then released only at the higher minimum k and without raw values."""

from __future__ import annotations

from typing import Any

import pytest

from examples.generate_city_data import generate
from exchange.settings import Settings
from tests.exchange.conftest import World, upload
from tests.exchange.flows import lease, offer_body

DROP = {"class": "drop"}


def bus_policy(k: int, **columns: Any) -> dict[str, Any]:
    spec = {
        "boarding_id": DROP,
        "student_id": {"class": "identifier", "rule": "token"},
        "student_name": DROP,
        "grade": DROP,
        "school": {"class": "quasi_identifier", "rule": "generalize", "prefix": 3},
        "home_stop": DROP,
        "route": {"class": "quasi_identifier", "rule": "generalize", "prefix": 5},
        "bus_id": DROP,
        "stop": DROP,
        "direction": {"class": "quasi_identifier", "rule": "generalize", "prefix": 2},
        "boarding_time": {"class": "quasi_identifier", "rule": "generalize", "to": "day"},
    }
    return {"k": k, "privacy_unit": {"column": "student_id"}, "columns": {**spec, **columns}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"minors_min_k": 5})


def put_policy(world: World, dataset_id: str, policy: dict[str, Any]):
    return world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)


def test_minors_data_needs_a_consent_basis_a_higher_k_and_no_raw_values(world: World):
    boardings = generate("student_boardings", 2000, seed=5)
    made = upload(world, boardings, name="boardings", filename="boardings.csv")
    assert made.status_code == 201, made.text
    dataset_id = made.json()["id"]
    kept = bus_policy(3, school={"class": "quasi_identifier", "rule": "keep"})
    assert put_policy(world, dataset_id, kept).status_code == 200  # not declared yet

    url = f"/v1/datasets/{dataset_id}/minors"
    assert world.call("provider", "PUT", url, json={"basis": "  "}).status_code == 422
    assert world.call("provider2", "PUT", url, json={"basis": "x"}).status_code == 403
    basis = "guardians' written consent collected by each school, 2026"
    declared = world.call("provider", "PUT", url, json={"basis": basis})
    assert declared.status_code == 200, declared.text
    assert declared.json() == {"dataset_id": dataset_id, "minors": True, "basis": basis, "min_k": 5}

    raw = put_policy(world, dataset_id, bus_policy(5, school=kept["columns"]["school"]))
    assert raw.status_code == 409 and raw.json()["error"]["code"] == "minors_raw_values"
    assert "school" in raw.json()["error"]["message"]
    low = put_policy(world, dataset_id, bus_policy(3))
    assert low.status_code == 409 and low.json()["error"]["code"] == "minors_k"
    # The policy set before the declaration is not released any more either.
    body = offer_body(dataset_id, k=3, terms={"allowed_purposes": ["traffic-planning"]})
    published = world.call("provider", "POST", "/v1/offers", json=body)
    assert published.status_code == 201, published.text
    refused = world.call(
        "buyer",
        "POST",
        "/v1/leases",
        json={"offer_id": published.json()["id"], "purpose": "traffic-planning", "days": 30},
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "minors_k"

    assert put_policy(world, dataset_id, bus_policy(5)).status_code == 200
    body = offer_body(dataset_id, k=5, terms={"allowed_purposes": ["traffic-planning"]})
    offer = world.call("provider", "POST", "/v1/offers", json=body)
    assert offer.status_code == 201, offer.text
    assert lease(world, offer.json()["id"], epsilon=0.0)["status"] == "approved"
    events = world.call("auditor", "GET", "/v1/audit/events?kind=minors_declared").json()
    assert [e["minors"] for e in events] == [True]
