"""Governance by grade with the default settings: an important-grade offer is reviewed by
compliance, disclosed for seven days with objections welcome, then listed; its lease
passes the provider's data officer, the district and the municipal level in order, and the
verifiable log proves each step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from contracts import verify_export
from exchange.context import Exchange
from exchange.main import create_app
from exchange.services import governance
from exchange.services.accounts import create_account
from exchange.settings import Settings
from tests.exchange.conftest import World
from tests.exchange.flows import POLICY, lease, offer_body

ACCOUNTS = [
    # (who, role, organisation, authority level, duties)
    ("operator", "operator", "深圳市数据交易所", None, []),
    ("provider", "provider", "深圳市交通运输局", None, []),
    ("officer", "provider", "深圳市交通运输局", None, ["data_officer"]),
    ("buyer", "buyer", "鹏城出行科技有限公司", None, []),
    ("auditor", "auditor", "深圳市审计局", None, []),
    ("compliance", "auditor", "深圳市数据交易所合规部", None, ["compliance"]),
    ("district", "auditor", "福田区政务服务数据管理局", "district", ["data_officer"]),
    ("municipal", "auditor", "深圳市政务服务数据管理局", "municipal", ["data_officer"]),
]


@pytest.fixture
def governed(tmp_path) -> Iterator[World]:
    """An exchange on the default governance settings."""
    exchange = Exchange.open(Settings(data_dir=tmp_path / "data", max_upload_bytes=5_000_000))
    keys, ids = {}, {}
    with exchange.sessions() as session:
        for who, role, org, level, duties in ACCOUNTS:
            issued = create_account(session, name=who, role=role, organisation=org)
            issued.account.authority_level = level
            issued.account.duties = duties or None
            keys[who], ids[who] = issued.api_key, issued.account.id
        session.commit()
    with TestClient(create_app(exchange=exchange), raise_server_exceptions=False) as client:
        yield World(client=client, exchange=exchange, keys=keys, ids=ids)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Moves the governance clock forward by the days given."""
    real = governance.now_utc
    shift = [timedelta()]
    monkeypatch.setattr(governance, "now_utc", lambda: real() + shift[0])

    def forward(days: float) -> None:
        shift[0] += timedelta(days=days)

    return forward


def important_offer(world: World, frame) -> tuple[str, str]:
    from tests.exchange.conftest import upload

    dataset_id = upload(world, frame, grade="important").json()["id"]
    policy = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY)
    assert policy.status_code == 200, policy.text
    offer = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset_id))
    assert offer.status_code == 201, offer.text
    return dataset_id, offer.json()["id"]


def events(world: World, kind: str) -> list[dict]:
    return world.call("auditor", "GET", f"/v1/audit/events?kind={kind}").json()


def in_catalog(world: World, offer_id: str) -> bool:
    return offer_id in {e["offer_id"] for e in world.call("buyer", "GET", "/v1/catalog").json()}


def test_an_important_listing_is_reviewed_disclosed_objected_to_and_listed(
    governed, citizens_small, clock
):
    world = governed
    dataset_id, offer_id = important_offer(world, citizens_small.head(300))
    assert world.call("provider", "GET", f"/v1/offers/{offer_id}").json()["review_status"] == (
        "pending_review"
    )
    assert not in_catalog(world, offer_id)
    assert lease_request(world, offer_id).json()["error"]["code"] == "not_listed"
    # Only compliance reviews; a provider's own data officer does not.
    body = {"approve": True, "reason": "grade, terms and policy checked"}
    for who in ("provider", "officer", "district"):
        assert (
            world.call(who, "POST", f"/v1/offers/{offer_id}/review", json=body).status_code == 403
        )
    # No objection before disclosure.
    url = f"/v1/transparency/{dataset_id}/objections"
    assert world.client.post(url, json={"text": "too early"}).status_code == 409
    reviewed = world.call("compliance", "POST", f"/v1/offers/{offer_id}/review", json=body)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review_status"] == "disclosed"
    page = world.client.get(f"/v1/transparency/{dataset_id}").json()
    assert page["listings"][0]["status"] == "disclosed"

    filed = world.client.post(url, json={"text": "pupils' trips must stay private", "name": "X"})
    assert filed.status_code == 201, filed.text
    objection = filed.json()["id"]
    clock(8)  # past the seven days: an open objection still holds the listing
    assert not in_catalog(world, offer_id)
    assert world.client.get(f"/v1/transparency/{dataset_id}").json()["listings"][0]["status"] == (
        "disclosed"
    )
    decision = {"uphold": False, "reason": "the release is k-anonymous per person"}
    decide = f"/v1/objections/{objection}/decision"
    assert world.call("officer", "POST", decide, json=decision).status_code == 403
    rejected = world.call("compliance", "POST", decide, json=decision)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert world.call("compliance", "POST", decide, json=decision).status_code == 409
    assert in_catalog(world, offer_id)
    listing = world.client.get(f"/v1/transparency/{dataset_id}").json()["listings"][0]
    assert listing["status"] == "listed"
    assert listing["objections"] == [
        {
            "id": objection,
            "status": "rejected",
            "filed_at": listing["objections"][0]["filed_at"],
            "decision_reason": "the release is k-anonymous per person",
        }
    ]
    # Disclosure is over: objections are no longer taken.
    assert world.client.post(url, json={"text": "late"}).status_code == 409

    reviews = events(world, "listing_reviewed")
    assert [(e["actor"], e["decision"], e["automatic"]) for e in reviews] == [
        (world.ids["compliance"], "approved", False)
    ]
    assert [e["objection"] for e in events(world, "objection_filed")] == [objection]
    assert events(world, "objection_rejected")[0]["actor"] == world.ids["compliance"]


def test_an_upheld_objection_stops_the_listing(governed, citizens_small, clock):
    world = governed
    dataset_id, offer_id = important_offer(world, citizens_small.head(300))
    body = {"approve": True, "reason": "checked"}
    assert world.call("compliance", "POST", f"/v1/offers/{offer_id}/review", json=body).is_success
    filed = world.client.post(
        f"/v1/transparency/{dataset_id}/objections", json={"text": "no consent basis"}
    ).json()
    upheld = world.call(
        "compliance",
        "POST",
        f"/v1/objections/{filed['id']}/decision",
        json={"uphold": True, "reason": "no consent basis recorded"},
    )
    assert upheld.status_code == 200, upheld.text
    clock(30)
    assert not in_catalog(world, offer_id)
    assert world.call("provider", "GET", f"/v1/offers/{offer_id}").json()["review_status"] == (
        "stopped"
    )
    assert lease_request(world, offer_id).json()["error"]["code"] == "not_listed"
    assert events(world, "listing_stopped")[0]["offer"] == offer_id


def test_general_data_is_reviewed_automatically_and_listed_at_once(governed, citizens_small):
    from tests.exchange.flows import publish

    world = governed
    _, offer_id = publish(world, citizens_small.head(300))
    assert in_catalog(world, offer_id)
    assert lease(world, offer_id)["status"] == "approved"
    reviews = events(world, "listing_reviewed")
    assert [(e["offer"], e["automatic"]) for e in reviews] == [(offer_id, True)]


def lease_request(world: World, offer_id: str):
    return world.call(
        "buyer",
        "POST",
        "/v1/leases",
        json={"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, "epsilon": 1.0},
    )


def test_a_lease_passes_the_three_level_chain_in_order_and_the_log_proves_it(
    governed, citizens_small, clock
):
    world = governed
    _, offer_id = important_offer(world, citizens_small.head(300))
    body = {"approve": True, "reason": "checked"}
    assert world.call("compliance", "POST", f"/v1/offers/{offer_id}/review", json=body).is_success
    clock(7)
    created = lease_request(world, offer_id)
    assert created.status_code == 201, created.text
    lease_id = created.json()["id"]
    assert created.json()["status"] == "requested"
    assert created.json()["approval_chain"] == ["data_officer", "district", "municipal"]

    def step(who: str, reason: str = "purpose fits"):
        return world.call(who, "POST", f"/v1/leases/{lease_id}/approve", json={"reason": reason})

    # No step can be skipped: district and municipal wait for the ones before them.
    for who in ("district", "municipal"):
        skipped = step(who)
        assert skipped.status_code == 409, skipped.text
        assert skipped.json()["error"]["code"] == "approval_out_of_order"
    for who in ("buyer", "compliance", "auditor"):
        assert step(who).status_code == 403
    assert world.call("buyer", "POST", f"/v1/leases/{lease_id}/pay").status_code == 409

    assert step("officer", "the provider's data officer agrees").json()["status"] == "requested"
    # The provider's side has decided its step; it cannot decide the district's.
    assert step("provider").status_code == 409
    assert step("municipal").json()["error"]["code"] == "approval_out_of_order"
    assert world.call("buyer", "POST", f"/v1/leases/{lease_id}/pay").status_code == 409
    assert step("district", "district review passed").json()["status"] == "requested"
    approved = step("municipal", "municipal review passed")
    assert approved.json()["status"] == "approved", approved.text
    assert step("municipal").status_code == 409
    assert world.call("buyer", "POST", f"/v1/leases/{lease_id}/pay").status_code == 200

    steps = events(world, "lease_approval_step")
    assert [
        (e["actor"], e["step"], e["level"], e["authority_level"], e["reason"]) for e in steps
    ] == [
        (world.ids["officer"], 1, "data_officer", None, "the provider's data officer agrees"),
        (world.ids["district"], 2, "district", "district", "district review passed"),
        (world.ids["municipal"], 3, "municipal", "municipal", "municipal review passed"),
    ]
    assert [e["lease"] for e in events(world, "lease_approved")] == [lease_id]
    approved_at = events(world, "lease_approved")[0]["index"]
    paid_at = events(world, "lease_paid")[0]["index"]
    assert max(e["index"] for e in steps) < approved_at < paid_at
    export = world.call("auditor", "GET", "/v1/audit/export").text
    public = world.call("auditor", "GET", "/v1/ledger/public-key").json()["public_key_pem"]
    assert verify_export(export.splitlines(), public).ok


def test_a_rejection_at_any_step_rejects_the_lease(governed, citizens_small, clock):
    world = governed
    _, offer_id = important_offer(world, citizens_small.head(300))
    body = {"approve": True, "reason": "checked"}
    assert world.call("compliance", "POST", f"/v1/offers/{offer_id}/review", json=body).is_success
    clock(7)
    lease_id = lease_request(world, offer_id).json()["id"]
    url = f"/v1/leases/{lease_id}"
    assert world.call("provider", "POST", f"{url}/approve", json={}).status_code == 200
    rejected = world.call("district", "POST", f"{url}/reject", json={"reason": "not needed"})
    assert rejected.json()["status"] == "rejected", rejected.text
    assert world.call("municipal", "POST", f"{url}/approve", json={}).status_code == 409
    event = events(world, "lease_rejected")[0]
    assert (event["actor"], event["level"], event["step"]) == (world.ids["district"], "district", 2)


def test_accounts_are_created_with_an_authority_level_and_duties(governed):
    created = governed.call(
        "operator",
        "POST",
        "/v1/accounts",
        json={
            "name": "community office",
            "role": "auditor",
            "organisation": "香蜜湖街道",
            "authority_level": "community",
            "duties": ["data_officer"],
        },
    )
    assert created.status_code == 201, created.text
    assert (created.json()["authority_level"], created.json()["duties"]) == (
        "community",
        ["data_officer"],
    )
    bad = governed.call(
        "operator",
        "POST",
        "/v1/accounts",
        json={"name": "x", "role": "buyer", "duties": ["king"]},
    )
    assert bad.status_code == 422
