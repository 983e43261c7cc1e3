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


def preview(world, frame, income: dict, k: int = 3) -> dict:
    dataset_id = uploaded(world, frame)
    policy = {**POLICY, "k": k, "columns": {**POLICY["columns"], "monthly_income": income}}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 200, response.text
    response = world.call("provider", "GET", f"/v1/datasets/{dataset_id}/preview?rows=5")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_preview_warns_when_noise_destroys_a_column(world, citizens_small):
    # epsilon 1 over [0, 100000] (the profile's suggestion for these incomes): the noise's
    # scale is ten times the incomes' spread, so most values land on a bound
    income = {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 100000]}
    body = preview(world, citizens_small.head(1000), income)
    error = body["noise"]["monthly_income"]
    assert error["rows"] > 900
    assert error["clamped_share"] > 0.5
    # about 0.04 with a sampling spread of about 0.03 over 1,000 rows (the keys are random)
    assert error["correlation"] < 0.25
    assert error["rmse"] > 20_000
    assert len(body["warnings"]) == 1
    assert "'monthly_income': the noise destroys this column" in body["warnings"][0]
    assert error["warning"] in body["warnings"][0]


def test_the_preview_reports_the_error_of_a_usable_noisy_column(world, citizens_small):
    # without k, noise at epsilon 10 is released as it is: a quarter on a bound at most
    income = {"class": "sensitive", "rule": "noise", "epsilon": 10.0, "bounds": [0, 40000]}
    body = preview(world, citizens_small.head(1000), income, k=1)
    error = body["noise"]["monthly_income"]
    assert error["rows"] > 900
    assert error["clamped_share"] < 0.3 and error["correlation"] > 0.3
    # Laplace noise of scale 4,000 has an RMSE of about 5,700 before clamping
    assert 2_000 < error["rmse"] < 8_000
    assert error["generalized_share"] == 0
    assert error["warning"] is None and body["warnings"] == []


def test_the_preview_warns_when_the_gate_generalizes_a_noisy_column(world, citizens_small):
    # noise above epsilon 1 per record counts as a quasi-identifier, which k=3 generalizes
    income = {"class": "sensitive", "rule": "noise", "epsilon": 10.0, "bounds": [0, 40000]}
    body = preview(world, citizens_small.head(1000), income)
    error = body["noise"]["monthly_income"]
    assert error["generalized_share"] > 0.5 and error["rows"] == 0
    assert "generalized" in body["warnings"][0]
