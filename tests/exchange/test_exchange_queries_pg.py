"""Two ``datalease serve`` workers on PostgreSQL answer 50 simultaneous DP queries on one
lease: exactly the number the allowance pays for are answered, the rest refused, and the
lease's ledger adds up to what was charged."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from tests.exchange.conftest import csv_bytes
from tests.exchange.flows import offer_body
from tests.exchange.servers import ServeProcess
from tests.exchange.test_exchange_concurrency_pg import all_at_once, codes, ok

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ALLOWANCE = 0.5
QUERY_EPSILON = 0.03  # 16 fit in 0.5 (0.48); the 17th would need 0.51
RACERS = 50


def test_fifty_concurrent_queries_on_two_workers_spend_exactly_the_allowance(
    tmp_path, pg_database_url
):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "student_id": np.repeat([f"S{i:03d}" for i in range(40)], 20),
            "stop": rng.choice(["莲花山", "深圳中学"], 800),
        }
    )
    policy = {
        "k": 1,
        "privacy_unit": {"column": "student_id", "max_rows": 5},
        "columns": {
            "student_id": {"class": "drop"},
            "stop": {"class": "attribute", "rule": "keep"},
        },
    }
    server = ServeProcess(
        tmp_path / "data", tmp_path / "server.log", database_url=pg_database_url, workers=2
    )
    with server:
        operator = server.client(server.create_account("operator", "operator")["api_key"])

        def client(role: str, name: str):
            body = {"role": role, "name": name, "organisation": f"{name} org"}
            made = ok(operator.post("/v1/accounts", json=body), 201)
            return server.client(made["api_key"])

        provider, buyer = client("provider", "provider"), client("buyer", "buyer")
        dataset = ok(
            provider.post(
                "/v1/datasets",
                files={"file": ("b.csv", csv_bytes(frame), "text/csv")},
                data={"name": "boardings", "grade": "general", "domain": "education"},
            ),
            201,
        )
        ok(provider.put(f"/v1/datasets/{dataset['id']}/policy", json=policy))
        offer = ok(provider.post("/v1/offers", json=offer_body(dataset["id"], k=1)), 201)
        request = {"offer_id": offer["id"], "purpose": "traffic-planning", "days": 30}
        lease = ok(buyer.post("/v1/leases", json={**request, "epsilon": ALLOWANCE}), 201)
        ok(buyer.post(f"/v1/leases/{lease['id']}/pay"))
        buyer.get("/healthz")  # open the connection before the race

        url = f"/v1/leases/{lease['id']}/queries"
        bodies = [
            {"op": "count", "epsilon": QUERY_EPSILON},
            {"op": "group_count", "by": "stop", "groups": ["莲花山"], "epsilon": QUERY_EPSILON},
        ]
        burst = all_at_once(
            [lambda body=bodies[i % 2]: buyer.post(url, json=body) for i in range(RACERS)]
        )
        allowed = int(ALLOWANCE // QUERY_EPSILON)
        assert codes(burst) == Counter({200: allowed, 409: RACERS - allowed}), [
            r.text for r in burst
        ]
        assert {r.json()["error"]["code"] for r in burst if r.status_code == 409} == {
            "budget_exceeded"
        }
        ledger = ok(buyer.get(f"/v1/leases/{lease['id']}/budget"))
        assert len(ledger["queries"]) == allowed
        assert ledger["epsilon_spent"] == ledger["epsilon_spent_by_queries"]
        assert ledger["epsilon_spent"] == pytest.approx(allowed * QUERY_EPSILON)
        assert ledger["epsilon_spent"] <= ALLOWANCE
        assert {q["max_rows"] for q in ledger["queries"]} == {5}
        operator.close()
        provider.close()
        buyer.close()
