"""Dividends through the service: once leases end, their subject-pool shares go to the
persons of their release, exactly; a subject's statement shows their part; the export
verifies offline, dividends included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import verify_export
from exchange.services import leases
from tests.exchange.flows import paid_lease, publish


def test_ended_leases_pay_their_pool_share_to_the_persons_of_the_release(
    world, citizens_small, monkeypatch: pytest.MonkeyPatch, backend: str
):
    frame = citizens_small.head(300)
    dataset_id, offer_id = publish(world, frame)
    column = world.call(
        "provider",
        "PUT",
        f"/v1/datasets/{dataset_id}/subject-column",
        json={"column": "resident_id"},
    )
    assert column.status_code == 200, column.text
    ended = [paid_lease(world, offer_id), paid_lease(world, offer_id, who="buyer2")]
    running = paid_lease(world, offer_id)
    # Half the term later: the revoked leases refund half, their pool shares are final.
    later = leases.now_utc() + timedelta(days=15)
    monkeypatch.setattr(leases, "now_utc", lambda: later)
    for lease in ended:
        revoked = world.call("provider", "POST", f"/v1/leases/{lease['id']}/revoke",
                             json={"reason": "term over"})  # fmt: skip
        assert revoked.status_code == 200, revoked.text
    assert world.call("provider", "POST", "/v1/dividends").status_code == 403

    paid = world.call("operator", "POST", "/v1/dividends")
    assert paid.status_code == 201, paid.text
    (run,) = paid.json()
    assert run["leases"] == 2 and run["persons"] == 300
    accounts = world.exchange.log.balances("CNY")
    pool = f"subject-pool:{dataset_id}"
    persons = {a: v for a, v in accounts.items() if a.startswith("subject:")}
    assert sum(persons.values()) == run["amount_minor"]
    assert accounts[pool] == split_part(world, running["id"], pool)  # the running lease's
    assert max(persons.values()) - min(persons.values()) <= 2  # within a fen per lease
    assert world.call("operator", "POST", "/v1/dividends").json() == []  # paid out once

    body = {"name": "市民", "identifier": frame.iloc[5]["resident_id"], "evidence": "RN-5"}
    key = world.call("operator", "POST", "/v1/subjects", json=body).json()["api_key"]
    statement = world.client.get(
        "/v1/subjects/me/dividends", headers={"Authorization": f"Bearer {key}"}
    ).json()
    (me,) = statement["persons"]
    assert me["total_minor"] == persons[me["ledger_account"]]
    assert me["dividends"][0]["release_id"] == run["release_id"]

    export = world.call("auditor", "GET", "/v1/audit/export").text.splitlines()
    public = world.client.get("/v1/ledger/public-key").json()["public_key_pem"]
    report = verify_export(export, public)
    assert report.ok, report.reason


def split_part(world, lease_id: str, account: str) -> int:
    """What the lease's split (and any refund) left in ``account``."""
    with world.exchange.sessions() as session:
        return sum(
            p["amount_minor"]
            for _, entry in world.exchange.log.entries(
                session, entry_type="transaction", subject=lease_id
            )
            for p in entry["postings"]
            if p["account"] == account
        )
