"""A dataset's lifetime budget belongs to the dataset: set once when it is listed, drawn on
by its offers, changed only by an operator-approved request that the log records."""

from __future__ import annotations

import pytest

from contracts import verify_export
from tests.exchange.conftest import upload
from tests.exchange.flows import POLICY, offer_body, paid_lease, publish

pytestmark = pytest.mark.usefixtures("backend")


def dataset(world, dataset_id: str) -> dict:
    return world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()


def ask(world, dataset_id: str, epsilon_cap: float, reason: str = "a second year of leases"):
    return world.call(
        "provider",
        "POST",
        f"/v1/datasets/{dataset_id}/budget-requests",
        json={"epsilon_cap": epsilon_cap, "reason": reason},
    )


def events(world, kind: str) -> list[dict]:
    return world.call("auditor", "GET", f"/v1/audit/events?kind={kind}").json()


def test_a_new_offer_cannot_raise_the_datasets_budget(world, citizens_small):
    dataset_id, _ = publish(world, citizens_small.head(300), epsilon_cap=5.0)
    raised = world.call(
        "provider", "POST", "/v1/offers", json=offer_body(dataset_id, epsilon_cap=1000)
    )
    assert raised.status_code == 409, raised.text
    error = raised.json()["error"]
    assert error["code"] == "budget_fixed"
    assert "lifetime budget is epsilon=5" in error["message"]
    assert f"/v1/datasets/{dataset_id}/budget-requests" in error["message"]
    assert dataset(world, dataset_id)["epsilon_cap"] == 5.0
    # an offer that leaves the cap out, or repeats it, draws on the same budget
    for cap in (None, 5.0):
        again = world.call(
            "provider", "POST", "/v1/offers", json=offer_body(dataset_id, epsilon_cap=cap)
        )
        assert again.status_code == 201, again.text
    assert dataset(world, dataset_id)["epsilon_cap"] == 5.0
    assert [e["epsilon_cap"] for e in events(world, "budget_set")] == ["5"]


def test_a_withdrawn_first_offer_leaves_the_budget_set(world, citizens_small):
    dataset_id, offer_id = publish(world, citizens_small.head(300), epsilon_cap=2.0)
    world.call("provider", "POST", f"/v1/offers/{offer_id}/withdraw")
    raised = world.call(
        "provider", "POST", "/v1/offers", json=offer_body(dataset_id, epsilon_cap=9)
    )
    assert raised.status_code == 409
    assert dataset(world, dataset_id)["epsilon_cap"] == 2.0


def test_the_first_offer_must_state_the_budget(world, citizens_small):
    dataset_id = upload(world, citizens_small.head(300)).json()["id"]
    assert (
        world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY).status_code
        == 200
    )
    before = dataset(world, dataset_id)
    assert before["epsilon_cap_set_at"] is None
    response = world.call(
        "provider", "POST", "/v1/offers", json=offer_body(dataset_id, epsilon_cap=None)
    )
    assert response.status_code == 422
    assert "epsilon_cap is required" in response.json()["error"]["message"]
    # a request to change a budget not set yet is pointless
    assert ask(world, dataset_id, 3.0).status_code == 409


def test_an_operator_approved_request_raises_the_budget_and_is_logged(world, citizens_small):
    dataset_id, offer_id = publish(world, citizens_small.head(300), epsilon_cap=2.0)
    paid_lease(world, offer_id, epsilon=1.0)  # spends the whole 2.0
    response = ask(world, dataset_id, 8.0)
    assert response.status_code == 201, response.text
    request = response.json()
    assert (request["status"], request["epsilon_cap"], request["previous_cap"]) == (
        "requested",
        8.0,
        2.0,
    )
    assert dataset(world, dataset_id)["epsilon_cap"] == 2.0  # nothing changes until approved
    assert ask(world, dataset_id, 9.0).json()["error"]["code"] == "request_pending"
    # the provider cannot approve its own request
    url = f"/v1/budget-requests/{request['id']}"
    assert world.call("provider", "POST", f"{url}/approve").status_code == 403
    approved = world.call("operator", "POST", f"{url}/approve", json={"reason": "reviewed"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == world.ids["operator"]
    assert dataset(world, dataset_id)["epsilon_cap"] == 8.0
    assert (
        world.call("operator", "POST", f"{url}/reject").json()["error"]["code"] == "already_decided"
    )
    paid_lease(world, offer_id, who="buyer2", epsilon=1.0)  # the new room is usable

    asked = events(world, "budget_change_requested")
    assert [(e["request"], e["actor"], e["epsilon_cap"], e["previous_cap"]) for e in asked] == [
        (request["id"], world.ids["provider"], "8", "2")
    ]
    assert asked[0]["reason"] == "a second year of leases"
    done = events(world, "budget_change_approved")
    assert [(e["request"], e["actor"], e["epsilon_cap"]) for e in done] == [
        (request["id"], world.ids["operator"], "8")
    ]
    budget = next(
        b
        for b in world.call("auditor", "GET", "/v1/audit/budgets").json()
        if b["dataset_id"] == dataset_id
    )
    assert budget["epsilon_cap"] == 8.0 and budget["epsilon_spent"] == pytest.approx(4.0)
    assert [(r["id"], r["status"]) for r in budget["budget_requests"]] == [
        (request["id"], "approved")
    ]
    seen = world.call("auditor", "GET", f"/v1/budget-requests?dataset_id={dataset_id}").json()
    assert [r["id"] for r in seen] == [request["id"]]
    export = world.call("auditor", "GET", "/v1/audit/export").text
    public = world.call("auditor", "GET", "/v1/ledger/public-key").json()["public_key_pem"]
    assert verify_export(export.splitlines(), public).ok


def test_a_rejected_request_leaves_the_budget_as_it_was(world, citizens_small):
    dataset_id, _ = publish(world, citizens_small.head(300), epsilon_cap=2.0)
    request = ask(world, dataset_id, 50.0).json()
    url = f"/v1/budget-requests/{request['id']}"
    rejected = world.call("operator", "POST", f"{url}/reject", json={"reason": "no case made"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert dataset(world, dataset_id)["epsilon_cap"] == 2.0
    assert world.call("operator", "POST", f"{url}/approve").status_code == 409
    assert dataset(world, dataset_id)["epsilon_cap"] == 2.0
    assert [e["request"] for e in events(world, "budget_change_rejected")] == [request["id"]]
    assert world.call("provider2", "GET", "/v1/budget-requests").json() == []
    assert world.call("buyer", "GET", "/v1/budget-requests").status_code == 403


def test_a_cap_below_what_was_spent_is_never_set(world, citizens_small):
    dataset_id, offer_id = publish(world, citizens_small.head(300), epsilon_cap=10.0)
    request = ask(world, dataset_id, 2.5).json()  # lowering is asked the same way
    paid_lease(world, offer_id, epsilon=2.0)  # 1.0 noise + 2.0 queries: 3.0 spent
    approve = world.call("operator", "POST", f"/v1/budget-requests/{request['id']}/approve")
    assert approve.status_code == 409, approve.text
    assert approve.json()["error"]["code"] == "below_spent"
    assert dataset(world, dataset_id)["epsilon_cap"] == 10.0
    pending = world.call("operator", "GET", "/v1/budget-requests?status=requested").json()
    assert [r["id"] for r in pending] == [request["id"]]
    assert events(world, "budget_change_approved") == []
    assert ask(world, dataset_id, 9.0).json()["error"]["code"] == "request_pending"
    world.call("operator", "POST", f"/v1/budget-requests/{request['id']}/reject")
    below = ask(world, dataset_id, 2.0)
    assert below.status_code == 422 and "already spent" in below.json()["error"]["message"]
