"""The whole story over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from contracts import verify_export, verify_inclusion
from exchange.db.models import Lease
from tests.exchange.flows import lease, offer_body, paid_lease, publish

# Every lease test runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.usefixtures("backend")


def test_general_grade_lease_runs_from_upload_to_audit(world, citizens_small):
    frame = citizens_small.head(800)
    dataset_id, offer_id = publish(world, frame)

    quote = world.call(
        "buyer",
        "POST",
        "/v1/quotes",
        json={"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, "epsilon": 1.0},
    )
    assert quote.status_code == 201, quote.text
    assert quote.json()["total_minor"] > 0 and quote.json()["factors"]

    created = lease(world, offer_id)
    assert created["status"] == "approved"
    assert created["price_minor"] == quote.json()["total_minor"]

    key = {"Idempotency-Key": "pay-once-1"}
    first = world.call("buyer", "POST", f"/v1/leases/{created['id']}/pay", headers=key)
    retry = world.call("buyer", "POST", f"/v1/leases/{created['id']}/pay", headers=key)
    assert first.status_code == retry.status_code == 200
    assert retry.headers.get("idempotent-replay") == "true"
    assert world.call("buyer", "GET", f"/v1/leases/{created['id']}").json()["status"] == "active"

    extract = world.call("buyer", "GET", f"/v1/leases/{created['id']}/extract")
    assert extract.status_code == 200, extract.text
    out = pd.read_csv(io.BytesIO(extract.content), dtype=str)
    assert "email" not in out.columns
    assert not set(out["resident_id"]) & set(frame["resident_id"])
    qi = ["birth_date", "gender", "district"]
    assert out.groupby(qi, dropna=False).size().min() >= 3

    answer = world.call(
        "buyer",
        "POST",
        f"/v1/leases/{created['id']}/queries",
        json={"op": "count", "epsilon": 0.25},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["lease_epsilon_remaining"] == pytest.approx(0.75)

    receipts = world.call("buyer", "GET", f"/v1/leases/{created['id']}/receipts").json()
    receipt = receipts["receipts"][0]
    assert receipt["entry"]["body"]["extract_sha256"] == extract.headers["x-extract-sha256"]
    proof = receipt["inclusion"]
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["index"],
        proof["size"],
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(proof["head"]["root"]),
    )

    revenue = world.call("auditor", "GET", "/v1/audit/revenue").json()
    assert revenue["balanced"] and revenue["sum_minor"] == 0
    price = created["price_minor"]
    assert revenue["balances_minor"][f"buyer:{world.ids['buyer']}"] == -price
    parties = {a: b for a, b in revenue["balances_minor"].items() if not a.startswith("buyer")}
    assert sum(v for a, v in parties.items() if a != "escrow") == price

    export = world.call("auditor", "GET", "/v1/audit/export").text
    public = world.call("auditor", "GET", "/v1/ledger/public-key").json()["public_key_pem"]
    report = verify_export(export.splitlines(), public)
    assert report.ok, report

    budgets = world.call("auditor", "GET", "/v1/audit/budgets").json()
    # noise 1.0 + queries 1.0; the profile's DP estimates are the provider's own allowance
    assert budgets[0]["epsilon_spent"] == pytest.approx(2.0)
    transparency = world.client.get(f"/v1/transparency/{dataset_id}").json()
    assert transparency["leases"][0]["organisation"] == "鹏城出行科技有限公司"
    assert transparency["leases"][0]["purpose"] == "traffic-planning"


def test_important_grade_needs_the_providers_approval(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300), grade="important")
    created = lease(world, offer_id)
    assert created["status"] == "requested"
    assert world.call("buyer", "POST", f"/v1/leases/{created['id']}/pay").status_code == 409
    assert world.call("provider2", "POST", f"/v1/leases/{created['id']}/approve").status_code == 403
    approved = world.call("provider", "POST", f"/v1/leases/{created['id']}/approve", json={})
    assert approved.json()["status"] == "approved"
    assert world.call("buyer", "POST", f"/v1/leases/{created['id']}/pay").status_code == 200


def test_core_grade_data_is_never_leasable(world, citizens_small):
    from tests.exchange.conftest import upload
    from tests.exchange.flows import POLICY, offer_body

    dataset_id = upload(world, citizens_small.head(100), grade="core").json()["id"]
    world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=POLICY)
    response = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset_id))
    assert response.status_code == 409
    assert "core" in response.json()["error"]["message"]


def test_purpose_outside_the_offer_is_refused(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    response = world.call(
        "buyer",
        "POST",
        "/v1/leases",
        json={"offer_id": offer_id, "purpose": "model-training", "days": 30},
    )
    assert response.status_code in (409, 422)
    assert "purpose" in response.json()["error"]["message"]


def test_revoked_lease_gives_403_and_a_pro_rata_refund(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    paid = paid_lease(world, offer_id)
    revoked = world.call(
        "provider", "POST", f"/v1/leases/{paid['id']}/revoke", json={"reason": "consent withdrawn"}
    )
    assert revoked.status_code == 200, revoked.text
    assert 0 < revoked.json()["refund_minor"] <= paid["price_minor"]
    response = world.call("buyer", "GET", f"/v1/leases/{paid['id']}/extract")
    assert response.status_code == 403
    assert "revoked" in response.json()["error"]["message"]
    revenue = world.call("auditor", "GET", "/v1/audit/revenue").json()
    assert revenue["balanced"]
    buyer = revenue["balances_minor"][f"buyer:{world.ids['buyer']}"]
    assert buyer == -paid["price_minor"] + revoked.json()["refund_minor"]


def test_expired_lease_is_gone(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    paid = paid_lease(world, offer_id)
    with world.exchange.sessions() as session:
        past = datetime.now(UTC) - timedelta(days=1)
        session.execute(
            update(Lease)
            .where(Lease.id == paid["id"])
            .values(starts_at=past - timedelta(days=30), ends_at=past)
        )
        session.commit()
    response = world.call("buyer", "GET", f"/v1/leases/{paid['id']}/extract")
    assert response.status_code == 410
    assert world.call("buyer", "GET", f"/v1/leases/{paid['id']}").json()["status"] == "expired"
    query = world.call(
        "buyer", "POST", f"/v1/leases/{paid['id']}/queries", json={"op": "count", "epsilon": 0.1}
    )
    assert query.status_code == 410


def test_download_limit_is_enforced(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    paid = paid_lease(world, offer_id)
    codes = [
        world.call("buyer", "GET", f"/v1/leases/{paid['id']}/extract").status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 403]


def test_budget_cap_refuses_a_payment_and_charges_nothing(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300), epsilon_cap=2.5)
    paid_lease(world, offer_id, epsilon=1.0)  # 1.0 noise + 1.0 queries
    second = lease(world, offer_id, who="buyer2", epsilon=1.0)
    response = world.call("buyer2", "POST", f"/v1/leases/{second['id']}/pay")
    assert response.status_code == 409
    assert "only 0.5 remains" in response.json()["error"]["message"]
    revenue = world.call("auditor", "GET", "/v1/audit/revenue").json()
    assert f"buyer:{world.ids['buyer2']}" not in revenue["balances_minor"]


def test_csv_extract_cells_starting_with_formula_characters_are_neutralised(world, citizens_small):
    frame = citizens_small.head(300).copy()
    frame["district"] = '=HYPERLINK("http://x")'
    policy = {
        "k": 1,
        "columns": {
            "district": {"class": "attribute", "rule": "keep"},
            "household_size": {"class": "attribute", "rule": "keep"},
        },
    }
    _, offer_id = publish(world, frame, policy=policy, k=1)
    paid = paid_lease(world, offer_id, epsilon=0.0)
    text = world.call("buyer", "GET", f"/v1/leases/{paid['id']}/extract").text
    lines = text.splitlines()[1:]
    assert lines and all(not line.startswith("=") for line in lines)
    assert all(line.startswith("'=") or line.startswith("\"'=") for line in lines)


def test_dp_group_keys_only_come_from_columns_released_unchanged(world, citizens_small):
    frame = citizens_small.head(400)
    _, offer_id = publish(world, frame)
    paid = paid_lease(world, offer_id, epsilon=1.0)
    url = f"/v1/leases/{paid['id']}/queries"
    for column in ("name", "resident_id", "birth_date"):
        response = world.call(
            "buyer", "POST", url, json={"op": "group_count", "by": column, "epsilon": 0.1}
        )
        assert response.status_code == 422, response.text
        assert column in response.json()["error"]["message"]
        assert not any(v in response.text for v in frame[column].astype(str).head(50))
    response = world.call(
        "buyer", "POST", url, json={"op": "group_count", "by": "district", "epsilon": 0.1}
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["value"]) <= set(frame["district"])
    refused = world.call(
        "buyer",
        "POST",
        url,
        json={"op": "sum", "column": "mobile", "bounds": [0, 1], "epsilon": 0.1},
    )
    assert refused.status_code == 422


def _names_in_extract(world, who, lease_id):
    text = world.call(who, "GET", f"/v1/leases/{lease_id}/extract").text
    return pd.read_csv(io.StringIO(text), dtype=str)["name"].tolist()


@pytest.mark.parametrize("linkable", [False, True])
def test_pseudonym_keys_are_per_lease_unless_the_offer_allows_linking(
    world, citizens_small, linkable
):
    from tests.exchange.flows import offer_body

    frame = citizens_small.head(300)
    terms = {**offer_body("x")["terms"], "link_across_leases": linkable}
    _, offer_id = publish(world, frame, terms=terms)
    first = paid_lease(world, offer_id, epsilon=0.0)
    second = paid_lease(world, offer_id, epsilon=0.0)
    other_buyer = paid_lease(world, offer_id, who="buyer2", epsilon=0.0)
    a = _names_in_extract(world, "buyer", first["id"])
    b = _names_in_extract(world, "buyer", second["id"])
    c = _names_in_extract(world, "buyer2", other_buyer["id"])
    assert not set(a) & set(frame["name"])
    assert (set(a) == set(b)) is linkable
    assert not set(a) & set(c)  # never linkable across buyers


def test_the_profiles_dp_estimates_are_charged_to_the_providers_allowance_not_to_buyers(
    world, citizens_small
):
    dataset_id, offer_id = publish(world, citizens_small.head(300), epsilon_cap=2.0)
    dataset = world.call("provider", "GET", f"/v1/datasets/{dataset_id}").json()
    spent = float(dataset["profile"]["bounds_epsilon"])
    assert spent > 0  # monthly_income's bounds were estimated with differential privacy
    assert dataset["provider_epsilon_spent"] == pytest.approx(spent)
    assert dataset["provider_epsilon_allowance"] == pytest.approx(2.0)
    assert dataset["epsilon_spent"] == 0  # offering the dataset charged the buyers nothing
    again = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset_id, epsilon_cap=2))
    assert again.status_code == 201, again.text
    budget = next(
        b
        for b in world.call("auditor", "GET", "/v1/audit/budgets").json()
        if b["dataset_id"] == dataset_id
    )
    assert budget["epsilon_spent"] == 0 and budget["spends"] == []
    mine = budget["provider_allowance"]
    assert mine["epsilon_spent"] == pytest.approx(spent)
    assert [s["kind"] for s in mine["spends"]] == ["profile"]
    assert mine["spends"][0]["epsilon"] == pytest.approx(spent)
    logged = world.call("auditor", "GET", "/v1/audit/events?kind=allowance_spent").json()
    assert [(e["dataset"], float(e["epsilon"])) for e in logged] == [(dataset_id, spent)]
    # the whole cap is the buyers': a lease costing exactly 2.0 fits
    paid_lease(world, offer_id, epsilon=1.0)  # 1.0 noise + 1.0 queries
