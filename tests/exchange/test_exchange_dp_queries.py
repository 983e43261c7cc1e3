"""DP queries over a lease, per person: contribution bounds from the policy's privacy unit,
exact charges rounded up, the lease's spent-budget ledger and the column cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange.services import queries as queries_svc
from tests.exchange.flows import paid_lease, publish

STUDENTS = 20
ROWS_EACH = 400


def boardings() -> pd.DataFrame:
    """20 children with 400 boardings each; one child also rides from a rare stop."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "student_id": np.repeat([f"S{i:04d}" for i in range(STUDENTS)], ROWS_EACH),
            "stop": rng.choice(["莲花山", "深圳中学", "市民中心"], STUDENTS * ROWS_EACH),
            "fare": rng.integers(1, 5, STUDENTS * ROWS_EACH),
        }
    )
    frame.loc[:9, "stop"] = "大鹏半岛"  # ten boardings of child S0000
    return frame


def policy(*, unit: bool) -> dict:
    out = {
        "k": 1,
        "columns": {
            "student_id": {"class": "drop"},
            "stop": {"class": "attribute", "rule": "keep"},
            "fare": {"class": "attribute", "rule": "keep"},
        },
    }
    if unit:
        out["privacy_unit"] = {"column": "student_id", "max_rows": 10}
    return out


@pytest.fixture
def leased(world):
    _, offer_id = publish(world, boardings(), policy=policy(unit=True), k=1)
    return paid_lease(world, offer_id, epsilon=1.0)


def ask(world, lease_id: str, **query):
    return world.call("buyer", "POST", f"/v1/leases/{lease_id}/queries", json=query)


def test_a_count_keeps_max_rows_per_person_and_says_so(world, leased):
    answer = ask(world, leased["id"], op="count", epsilon=0.5)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    record = body["accounting"]
    assert record["mechanism"] == "geometric (discrete Laplace)"
    assert (record["sensitivity"], record["max_rows"]) == (10.0, 10)
    assert body["unit"] == record["unit"] == "one person = one value of 'student_id'"
    # 20 children x 10 rows, not 8,000 boardings; noise of scale 10 / 0.5
    assert abs(body["value"] - STUDENTS * 10) < 300
    assert (record["epsilon_exact"], record["epsilon_micro"], record["delta"]) == (
        "1/2",
        500_000,
        0,
    )


def test_a_dataset_without_a_privacy_unit_answers_per_row(world):
    _, offer_id = publish(world, boardings().head(500), policy=policy(unit=False), k=1)
    lease = paid_lease(world, offer_id, epsilon=1.0)
    body = ask(world, lease["id"], op="count", epsilon=1.0).json()
    assert body["unit"] == "one row = one person"
    assert body["accounting"]["sensitivity"] == 1.0
    catalog = world.call("buyer", "GET", "/v1/catalog").json()
    entry = next(e for e in catalog if e["offer_id"] == offer_id)
    assert entry["dp_queries"] == {"unit": "one row = one person"}


@pytest.mark.parametrize(
    ("epsilon", "limit"),
    [(4.9e-7, "below the minimum per query, 0.001"), (12, "above the maximum per query, 10")],
)
def test_epsilon_outside_the_limits_is_refused_and_costs_nothing(world, leased, epsilon, limit):
    response = ask(world, leased["id"], op="count", epsilon=epsilon)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_query"
    assert limit in response.json()["error"]["message"]
    budget = world.call("buyer", "GET", f"/v1/leases/{leased['id']}/budget").json()
    assert budget["epsilon_spent"] == 0 and budget["queries"] == []


def test_charges_round_up_and_the_ledger_lists_every_query(world):
    _, offer_id = publish(world, boardings().head(400), policy=policy(unit=True), k=1)
    lease = paid_lease(world, offer_id, epsilon=0.01)
    codes = [
        ask(world, lease["id"], op="count", epsilon=0.0010000001).status_code for _ in range(10)
    ]
    assert codes == [200] * 9 + [409]  # 1,001 micro units each: nine fit in 10,000
    budget = world.call("buyer", "GET", f"/v1/leases/{lease['id']}/budget").json()
    assert budget["epsilon_spent"] == pytest.approx(0.009009)
    assert budget["epsilon_spent_by_queries"] == budget["epsilon_spent"]
    assert [q["epsilon_micro"] for q in budget["queries"]] == [1001] * 9
    assert {q["mechanism"] for q in budget["queries"]} == {"geometric (discrete Laplace)"}
    assert world.call("buyer2", "GET", f"/v1/leases/{lease['id']}/budget").status_code == 403
    auditor = world.call("auditor", "GET", f"/v1/leases/{lease['id']}/budget")
    assert auditor.status_code == 200 and len(auditor.json()["queries"]) == 9


def test_a_rare_group_is_not_revealed_without_a_public_domain(world, leased):
    query = {"op": "group_count", "by": "stop", "epsilon": 0.5, "max_groups": 2}
    body = ask(world, leased["id"], **query).json()
    assert "大鹏半岛" not in body["value"]
    assert body["accounting"]["domain"] == "partition selection"
    assert body["accounting"]["delta"] > 0
    public = ask(world, leased["id"], **query, groups=["莲花山", "大鹏半岛"]).json()
    assert set(public["value"]) == {"莲花山", "大鹏半岛"}
    assert public["accounting"]["delta"] == 0
    budget = world.call("buyer", "GET", f"/v1/leases/{leased['id']}/budget").json()
    assert budget["delta_spent"] == pytest.approx(1e-7)


def test_group_queries_without_a_public_domain_spend_a_bounded_delta(world, leased):
    query = {"op": "group_count", "by": "stop", "epsilon": 0.01}
    allowed = round(queries_svc.LEASE_DELTA_PICO / queries_svc.PICO / 1e-7)
    codes = [ask(world, leased["id"], **query).status_code for _ in range(allowed + 1)]
    assert codes == [200] * allowed + [409]
    refused = ask(world, leased["id"], **query).json()["error"]
    assert refused["code"] == "delta_exceeded" and "groups" in refused["message"]
    # A public domain costs no delta: it still works, and the epsilon charged was kept.
    assert ask(world, leased["id"], **query, groups=["莲花山"]).status_code == 200
    budget = world.call("buyer", "GET", f"/v1/leases/{leased['id']}/budget").json()
    assert budget["delta_charged"] == pytest.approx(budget["delta_allowance"])
    assert budget["epsilon_spent"] == pytest.approx(0.01 * (allowed + 1))


def test_queries_read_the_encrypted_table_once_per_column(world, leased, monkeypatch):
    reads: list[list[str]] = []
    real = queries_svc.read_raw

    def counting(exchange, dataset, *, columns=None, **kwargs):
        reads.append(list(columns or []))
        return real(exchange, dataset, columns=columns, **kwargs)

    monkeypatch.setattr(queries_svc, "read_raw", counting)
    mean = {"op": "mean", "column": "fare", "bounds": [0, 10], "epsilon": 0.1}
    for query in [mean, mean, {"op": "sum", "column": "fare", "bounds": [0, 10], "epsilon": 0.1}]:
        assert ask(world, leased["id"], **query).status_code == 200
    assert reads == [["fare", "student_id"]]
    assert world.exchange.query_cache.bytes > 0
