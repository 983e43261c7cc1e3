"""The data rights register: holding, processing and operation rights with their holders
and evidence; once a dataset has a register (or its grade needs one), revenue shares must
name registered holders, and every change is in the verifiable log."""

from __future__ import annotations

import pytest

from exchange.settings import Settings
from tests.exchange.conftest import World, upload
from tests.exchange.flows import POLICY, offer_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rights_grades": ["important"]})


def dataset(world: World, frame, grade: str) -> str:
    dataset_id = upload(world, frame, grade=grade).json()["id"]
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY)
    assert response.status_code == 200, response.text
    return dataset_id


def offer(world: World, dataset_id: str, party: str = "party:futian-dc"):
    body = offer_body(dataset_id)
    body["shares_bp"] = {"provider": 7000, party: 1000, "platform": 1500, "subject_pool": 500}
    return world.call("provider", "POST", "/v1/offers", json=body)


def right(world: World, dataset_id: str, who: str = "provider", **body: str):
    entry = {"organisation": "福田区政务数据中心", "evidence": "SZ-DR-2026-00042", **body}
    return world.call(who, "POST", f"/v1/datasets/{dataset_id}/rights", json=entry)


def test_revenue_shares_follow_the_register_once_there_is_one(world: World, citizens_small):
    dataset_id = dataset(world, citizens_small.head(300), "general")
    assert offer(world, dataset_id).status_code == 201  # no register: shares as offered
    holding = {"right": "holding", "holder": "provider"}
    assert right(world, dataset_id, "buyer", **holding).status_code == 403
    assert right(world, dataset_id, "provider2", **holding).status_code == 403
    assert right(world, dataset_id, right="owning", holder="provider").status_code == 422
    assert right(world, dataset_id, right="holding", holder="futian").status_code == 422
    assert right(world, dataset_id, **holding).status_code == 201
    processing = right(world, dataset_id, right="processing", holder="party:futian-dc")
    assert processing.status_code == 201, processing.text

    register = world.call("buyer", "GET", f"/v1/datasets/{dataset_id}/rights").json()
    assert [(r["right"], r["holder"]) for r in register] == [
        ("holding", "provider"),
        ("processing", "party:futian-dc"),
    ]
    refused = offer(world, dataset_id, party="party:nanshan-dc")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_a_right_holder"
    assert "party:nanshan-dc" in refused.json()["error"]["message"]
    assert offer(world, dataset_id).status_code == 201

    url = f"/v1/datasets/{dataset_id}/rights/{processing.json()['id']}/revoke"
    ended = world.call("provider", "POST", url, json={"reason": "licence expired"})
    assert ended.status_code == 200 and ended.json()["revoked_at"]
    assert world.call("provider", "POST", url, json={}).status_code == 409
    assert offer(world, dataset_id).status_code == 409

    def kinds(kind: str) -> list[dict]:
        return world.call("auditor", "GET", f"/v1/audit/events?kind={kind}").json()

    assert [e["right"] for e in kinds("right_registered")] == ["holding", "processing"]
    assert [e["holder"] for e in kinds("right_revoked")] == ["party:futian-dc"]


def test_a_grade_that_needs_a_register_gets_no_offer_without_one(world: World, citizens_small):
    dataset_id = dataset(world, citizens_small.head(300), "important")
    refused = offer(world, dataset_id)
    assert refused.status_code == 409, refused.text
    assert (
        "party:futian-dc, provider hold(s) no registered right"
        in refused.json()["error"]["message"]
    )
    assert right(world, dataset_id, right="holding", holder="provider").status_code == 201
    operated = right(world, dataset_id, "operator", right="operation", holder="party:futian-dc")
    assert operated.status_code == 201  # an operator confirming rights may register too
    assert offer(world, dataset_id).status_code == 201
