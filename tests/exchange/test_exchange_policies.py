"""Policies set through the API are checked against the real columns before they are saved."""

from __future__ import annotations

from tests.exchange.conftest import upload
from tests.exchange.flows import POLICY


def uploaded(world, frame) -> str:
    response = upload(world, frame)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_unknown_columns_in_a_policy_are_a_422_naming_them(world, citizens_small):
    dataset_id = uploaded(world, citizens_small.head(100))
    policy = {"k": 2, "columns": {"shoe_size": {"class": "attribute", "rule": "keep"}}}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 422
    assert "shoe_size" in response.json()["error"]["message"]
    assert world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()["policy"] is None


def test_keeping_an_identifier_in_clear_is_refused(world, citizens_small):
    dataset_id = uploaded(world, citizens_small.head(100))
    policy = {"k": 2, "columns": {"mobile": {"class": "identifier", "rule": "keep"}}}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 422
    assert "mobile" in response.json()["error"]["message"]


def test_noise_on_a_text_column_is_refused(world, citizens_small):
    dataset_id = uploaded(world, citizens_small.head(100))
    policy = {
        "k": 2,
        "columns": {
            "name": {"class": "sensitive", "rule": "noise", "epsilon": 1, "bounds": [0, 1]}
        },
    }
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 422
    assert "name" in response.json()["error"]["message"]


def test_noise_epsilon_outside_the_range_is_a_422_naming_the_column(world, citizens_small):
    dataset_id = uploaded(world, citizens_small.head(100))
    for epsilon in (1e5, 1e-300):
        noise = {"class": "sensitive", "rule": "noise", "epsilon": epsilon, "bounds": [0, 1e5]}
        policy = {"k": 2, "columns": {"monthly_income": noise}}
        response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert "monthly_income" in message and "between 0.01 and 10" in message


def test_preview_is_desensitized_and_reports_risk(world, citizens_small):
    frame = citizens_small.head(600)
    dataset_id = uploaded(world, frame)
    assert (
        world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY).status_code
        == 200
    )
    response = world.call("provider", "GET", f"/v1/datasets/{dataset_id}/preview?rows=50")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "email" not in body["columns"]
    text = response.text
    for column in ("name", "resident_id", "mobile", "address", "card_id"):
        assert not any(value in text for value in frame[column].head(200))
    assert body["report"]


def test_another_provider_cannot_read_or_change_the_dataset(world, citizens_small):
    dataset_id = uploaded(world, citizens_small.head(50))
    assert world.call("provider2", "GET", f"/v1/datasets/{dataset_id}").status_code == 403
    assert (
        world.call("provider2", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY).status_code
        == 403
    )
    assert world.call("provider2", "GET", f"/v1/datasets/{dataset_id}/preview").status_code == 403


def test_a_rule_that_cannot_run_on_the_values_is_refused_when_the_policy_is_set(
    world, citizens_small
):
    dataset_id = uploaded(world, citizens_small.head(100))
    policy = {
        "k": 2,
        "columns": {
            "resident_id": {"class": "quasi_identifier", "rule": "generalize", "to": "year"}
        },
    }
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 422
    assert "resident_id" in response.json()["error"]["message"]
    assert not any(v in response.text for v in citizens_small["resident_id"].head(100))
