"""Governance through the client and the command line against real servers: a compliance
account reviews an important-grade listing, anyone objects during its disclosure and
compliance decides; a lease passes its three-level approval chain step by step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.client import Client, Conflict, Forbidden
from tests.client.conftest import PURPOSE, Running, offer_terms
from tests.client.test_cli_workflow import datalease
from tests.exchange.servers import ServeProcess

# (who, role, organisation, authority level, duties); the provider's organisation is the
# data officer's, so the officer may decide the chain's first step.
GOVERNORS = [
    ("compliance", "auditor", "exchange compliance", None, ["compliance"]),
    ("district", "auditor", "district data bureau", "district", ["data_officer"]),
    ("municipal", "auditor", "municipal data bureau", "municipal", ["data_officer"]),
]


def with_governors(server: ServeProcess, keys: dict[str, str]) -> dict[str, str]:
    with Client(server.url, keys["operator"]) as operator:
        for who, role, org, level, duties in GOVERNORS:
            made = operator.create_account(who, role, org, authority_level=level, duties=duties)
            assert (made.authority_level, made.duties) == (level, duties)
            keys[who] = made.api_key
    return keys


@pytest.fixture(scope="module")
def governed(running: Running) -> Running:
    """The shared server (review of important data, seven days of disclosure)."""
    with_governors(running.server, running.keys)
    return running


@pytest.fixture(scope="module")
def no_disclosure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server whose reviewed listings are listed at once, so a lease can be requested."""
    root = tmp_path_factory.mktemp("governed-server")
    env = {"DATALEASE_DISCLOSURE_DAYS": "0"}
    with ServeProcess(root / "data", root / "server.log", extra_env=env) as server:
        keys = {"operator": server.create_account("operator", "ops")["api_key"]}
        with Client(server.url, keys["operator"]) as operator:
            for role in ("provider", "buyer"):
                keys[role] = operator.create_account(role, role, f"{role} org").api_key
        yield Running(server, with_governors(server, keys))


def important_offer(running: Running, citizens_csv: Path) -> tuple[str, str]:
    with running.client("provider") as provider:
        dataset = provider.upload_dataset(citizens_csv, name="citizens", grade="important")
        policy = dataset.suggested_policy
        policy["k"] = 3
        provider.set_policy(dataset.id, policy)
        offer = provider.publish_offer(dataset.id, **offer_terms())
    assert offer.review_status == "pending_review"
    return dataset.id, offer.id


def test_a_listing_is_reviewed_objected_to_and_stopped_through_the_client(
    governed: Running, citizens_csv: Path
):
    dataset_id, offer_id = important_offer(governed, citizens_csv)
    with (
        governed.client("provider") as provider,
        governed.client("compliance") as compliance,
        governed.client("buyer") as buyer,
        Client(governed.url) as anyone,
    ):
        assert offer_id in {o.id for o in provider.list_offers()}
        waiting = compliance.list_offers(review_status="pending_review")
        assert offer_id in {o.id for o in waiting}
        with pytest.raises(Forbidden, match="catalog"):
            buyer.list_offers()
        with pytest.raises(Forbidden, match="compliance"):
            provider.review_offer(offer_id, approve=True, reason="mine")

        reviewed = compliance.review_offer(offer_id, approve=True, reason="terms checked")
        assert reviewed.review_status == "disclosed" and reviewed.disclosure_ends_at
        assert offer_id not in {e.offer_id for e in buyer.catalog()}

        filed = anyone.file_objection(dataset_id, "pupils' trips", name="parents' committee")
        assert (filed.offer_id, filed.status) == (offer_id, "open")
        (listing,) = anyone.transparency(dataset_id).listings
        assert listing.status == "disclosed" and listing.objections[0].id == filed.id
        with pytest.raises(Forbidden):
            buyer.list_objections()
        (open_one,) = compliance.list_objections(status="open", dataset_id=dataset_id)
        assert (open_one.text, open_one.filed_by) == ("pupils' trips", "parents' committee")

        decided = compliance.decide_objection(filed.id, uphold=True, reason="a valid concern")
        assert decided.status == "upheld" and decided.decided_by
        assert provider.list_offers(review_status="stopped")[-1].id == offer_id
        (listing,) = anyone.transparency(dataset_id).listings
        assert listing.status == "stopped" and listing.objections[0].status == "upheld"
        with pytest.raises(Conflict):
            compliance.decide_objection(filed.id, uphold=False, reason="again")


def test_a_lease_passes_its_approval_chain_step_by_step_through_the_client(
    no_disclosure: Running, citizens_csv: Path
):
    running = no_disclosure
    _, offer_id = important_offer(running, citizens_csv)
    with running.client("compliance") as compliance:
        reviewed = compliance.review_offer(offer_id, approve=True, reason="ok")
        assert reviewed.review_status == "listed"  # no disclosure period on this server
    with running.client("buyer") as buyer:
        lease = buyer.request_lease(offer_id, PURPOSE, days=7)
    assert lease.status == "requested"
    assert lease.approval_chain == ["data_officer", "district", "municipal"]
    assert (lease.approvals, lease.awaiting) == ([], "data_officer")

    with running.client("district") as district, pytest.raises(Conflict, match="in order"):
        district.approve_lease(lease.id, "too early")
    for n, who in enumerate(["provider", "district", "municipal"], start=1):
        with running.client(who) as decider:
            lease = decider.approve_lease(lease.id, f"{who} agrees")
        assert [a.level for a in lease.approvals] == lease.approval_chain[:n]
        assert lease.approvals[-1].reason == f"{who} agrees"
    assert (lease.status, lease.awaiting) == ("approved", None)
    with running.client("buyer") as buyer:
        assert buyer.pay(lease.id).status == "active"
        assert [a.step for a in buyer.get_lease(lease.id).approvals] == [1, 2, 3]


def test_the_governance_commands(no_disclosure: Running, citizens_csv: Path):
    running = no_disclosure
    dataset_id, offer_id = important_offer(running, citizens_csv)
    waiting = datalease(
        running, "compliance", "offer", "list", "--review-status", "pending_review", "--json"
    )
    assert offer_id in {o["id"] for o in waiting}
    reviewed = datalease(
        running, "compliance", "offer", "review", offer_id, "--approve", "--reason", "ok", "--json"
    )
    assert reviewed["review_status"] == "listed"  # no disclosure period on this server
    shown = datalease(running, None, "transparency", dataset_id)
    assert offer_id in shown.stdout and "listed" in shown.stdout
    # Too late to object: the listing is past its disclosure.
    late = datalease(
        running, None, "objection", "file", dataset_id, "--text", "no", "--json", code=1
    )
    assert late["error"]["code"] == "not_in_disclosure"
    assert datalease(running, "compliance", "objection", "list", "--json") == []

    lease = datalease(
        running, "buyer", "lease", "request", offer_id, "--purpose", PURPOSE, "--json"
    )
    assert lease["awaiting"] == "data_officer"
    datalease(running, "provider", "lease", "approve", lease["id"], "--reason", "fits")
    text = datalease(running, "district", "lease", "approve", lease["id"], "--reason", "fits")
    assert "data_officer ✓ → district ✓ → municipal (next)" in text.stdout
    rejected = datalease(
        running, "municipal", "lease", "reject", lease["id"], "--reason", "not now", "--json"
    )
    assert rejected["status"] == "rejected" and len(rejected["approvals"]) == 2
