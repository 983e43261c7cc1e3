"""Two ``datalease serve`` worker processes on PostgreSQL, hit with simultaneous requests:
the privacy budget, a lease's query allowance and idempotent payments hold under the race."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contracts import verify_export
from tests.exchange.conftest import csv_bytes
from tests.exchange.flows import POLICY, offer_body
from tests.exchange.servers import ServeProcess

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MICRO = 1_000_000
NOISE_EPSILON = 0.5  # the extract's record noise on monthly_income
QUERY_EPSILON = 1.0  # each lease's allowance for DP queries
LEASE_COST = NOISE_EPSILON + QUERY_EPSILON
RACERS = 10


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.request.url, response.text[:500])
    return response.json()


def all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls from as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def codes(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def test_budget_queries_and_payments_hold_under_concurrent_requests(
    tmp_path, pg_database_url, citizens_small
):
    server = ServeProcess(
        tmp_path / "data", tmp_path / "server.log", database_url=pg_database_url, workers=2
    )
    clients: list[httpx.Client] = []

    def client(key: str) -> httpx.Client:
        clients.append(server.client(key))
        clients[-1].get("/healthz")  # open the connection before any race
        return clients[-1]

    with server:
        operator = client(server.create_account("operator", "operator")["api_key"])

        def account(role: str, name: str) -> dict:
            body = {"role": role, "name": name, "organisation": f"{name} org"}
            return ok(operator.post("/v1/accounts", json=body), 201)

        provider = client(account("provider", "provider")["api_key"])
        auditor = client(account("auditor", "auditor")["api_key"])
        made = [account("buyer", f"buyer{i}") for i in range(RACERS + 2)]
        buyers = [client(b["api_key"]) for b in made]

        # an offer whose cap fits the two warm-up payments and three of the ten racers
        winners = 3
        policy = {**POLICY, "columns": {**POLICY["columns"]}}
        policy["columns"]["monthly_income"] = {
            **POLICY["columns"]["monthly_income"],
            "epsilon": NOISE_EPSILON,
        }
        dataset = ok(
            provider.post(
                "/v1/datasets",
                files={"file": ("c.csv", csv_bytes(citizens_small.head(200)), "text/csv")},
                data={"name": "citizens", "grade": "general", "domain": "population"},
            ),
            201,
        )
        ok(provider.put(f"/v1/datasets/{dataset['id']}/policy", json=policy))
        # The profile's DP estimates are the provider's own allowance: the cap is the buyers'.
        cap = LEASE_COST * (2 + winners)
        offer = ok(
            provider.post("/v1/offers", json=offer_body(dataset["id"], epsilon_cap=cap)), 201
        )
        request = {"offer_id": offer["id"], "purpose": "traffic-planning", "days": 30}
        leases = [
            ok(b.post("/v1/leases", json={**request, "epsilon": QUERY_EPSILON}), 201)
            for b in buyers
        ]
        assert {lease["status"] for lease in leases} == {"approved"}
        assert {lease["epsilon_extract"] + lease["epsilon_queries"] for lease in leases} == {
            LEASE_COST
        }

        # -- one payment retried 12 times at once with one Idempotency-Key: charged once ------
        first, retried = buyers[0], leases[0]["id"]
        key = {"Idempotency-Key": "pay-once-under-fire"}
        burst = all_at_once([lambda: first.post(f"/v1/leases/{retried}/pay", headers=key)] * 12)
        assert set(codes(burst)) <= {200, 409}, [r.text for r in burst]
        assert all(
            r.json()["error"]["message"].startswith("a request with this Idempotency-Key")
            for r in burst
            if r.status_code == 409
        )
        later = first.post(f"/v1/leases/{retried}/pay", headers=key)
        assert later.status_code == 200 and later.headers["idempotent-replay"] == "true"

        # -- one payment sent 8 times at once without a key: one succeeds ---------------------
        second, doubled = buyers[1], leases[1]["id"]
        burst = all_at_once([lambda: second.post(f"/v1/leases/{doubled}/pay")] * 8)
        assert codes(burst) == Counter({200: 1, 409: 7}), [r.text for r in burst]
        assert {r.json()["error"]["code"] for r in burst if r.status_code == 409} == {
            "already_paid"
        }

        # -- ten buyers pay at once; the cap has room for three -------------------------------
        racing = list(zip(buyers[2:], leases[2:], strict=True))
        burst = all_at_once(
            [
                lambda b=b, lease=lease: b.post(f"/v1/leases/{lease['id']}/pay")
                for b, lease in racing
            ]
        )
        assert codes(burst) == Counter({200: winners, 409: RACERS - winners}), [
            r.text for r in burst
        ]
        refused = [r.json()["error"] for r in burst if r.status_code == 409]
        assert {e["code"] for e in refused} == {"budget_exceeded"}
        paid_ids = {leases[0]["id"], leases[1]["id"]} | {
            r.json()["id"] for r in burst if r.status_code == 200
        }
        statuses = {
            lease["id"]: ok(auditor.get(f"/v1/leases/{lease['id']}"))["status"] for lease in leases
        }
        assert {i for i, s in statuses.items() if s == "active"} == paid_ids
        assert Counter(statuses.values()) == Counter(active=2 + winners, approved=RACERS - winners)

        budget = ok(auditor.get("/v1/audit/budgets"))[0]
        assert budget["epsilon_spent"] == pytest.approx(cap)
        assert budget["within_cap"] and budget["epsilon_spent"] <= budget["epsilon_cap"]
        assert budget["epsilon_spent_by_entries"] == pytest.approx(cap)
        assert {s["lease_id"] for s in budget["spends"]} == paid_ids

        # -- 25 DP queries at once on one lease with room for ten -----------------------------
        winner = next(i for i, lease in enumerate(leases) if lease["id"] in paid_ids and i >= 2)
        url = f"/v1/leases/{leases[winner]['id']}/queries"
        burst = all_at_once(
            [lambda: buyers[winner].post(url, json={"op": "count", "epsilon": 0.1})] * 25
        )
        assert codes(burst) == Counter({200: 10, 409: 15}), [r.text for r in burst]
        assert {r.json()["error"]["code"] for r in burst if r.status_code == 409} == {
            "budget_exceeded"
        }
        after = ok(buyers[winner].get(f"/v1/leases/{leases[winner]['id']}"))
        assert after["epsilon_queries_spent"] == pytest.approx(QUERY_EPSILON)
        assert ok(auditor.get("/v1/audit/budgets"))[0]["epsilon_spent"] == pytest.approx(cap)

        # -- money: each paid lease charged exactly once, the ledger balanced ------------------
        revenue = ok(auditor.get("/v1/audit/revenue"))
        assert revenue["balanced"] and revenue["sum_minor"] == 0
        balances = revenue["balances_minor"]
        for b, lease in zip(made, leases, strict=True):
            charged = -balances.get(f"buyer:{b['id']}", 0)
            assert charged == (lease["price_minor"] if lease["id"] in paid_ids else 0), lease["id"]
        payments = Counter()
        for event in ok(
            auditor.get("/v1/audit/events", params={"kind": "lease_paid", "limit": 5000})
        ):
            payments[event["lease"]] += 1
        assert payments == Counter({lease_id: 1 for lease_id in paid_ids})

        # -- both worker processes see one log, and it verifies ------------------------------
        heads = set()
        for _ in range(6):
            with server.client(made[0]["api_key"]) as fresh:  # a new connection each time
                fresh.headers["Authorization"] = auditor.headers["Authorization"]
                head = ok(fresh.get("/v1/audit/head"))
                heads.add((head["size"], head["root"]))
        assert len(heads) == 1, heads
        export = auditor.get("/v1/audit/export").text
        report = verify_export(export.splitlines(), head["public_key_pem"])
        assert report.ok, report
        assert report.tree_size >= head["size"]
        assert report.balances == balances
        for c in clients:
            c.close()
