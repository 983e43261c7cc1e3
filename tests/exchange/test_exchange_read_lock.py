"""Reads never take the write lock: on SQLite a read-only route answers while another
transaction holds the write lock, and only the charge of a DP query waits for it."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from exchange.db.models import Account
from tests.exchange.conftest import World
from tests.exchange.flows import POLICY, paid_lease, publish

# Far below the 30 s busy timeout a request queued behind the write lock would wait.
PROMPT = 5.0
QUERY = {"op": "mean", "column": "monthly_income", "bounds": [0, 100000], "epsilon": 0.1}


@pytest.fixture
def frame(citizens_small: pd.DataFrame) -> pd.DataFrame:
    return citizens_small.head(300)


@contextmanager
def write_lock_held(world: World) -> Iterator[None]:
    """Another writer's open transaction, as a long upload or payment would hold it."""
    with world.exchange.engine.connect() as conn:
        conn.execute(text("UPDATE accounts SET name = name WHERE 1 = 0"))  # BEGIN IMMEDIATE
        try:
            yield
        finally:
            conn.rollback()


def in_thread(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[threading.Thread, dict]:
    out: dict[str, Any] = {}

    def run() -> None:
        out["response"] = call(*args, **kwargs)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_read_routes_answer_while_a_write_transaction_is_open(world: World, frame):
    _, offer_id = publish(world, frame)
    lease = paid_lease(world, offer_id, epsilon=5.0)
    quote = {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30}
    reads = [
        ("buyer", "GET", "/v1/catalog", None),
        ("buyer", "GET", f"/v1/catalog/{offer_id}", None),
        ("buyer", "POST", "/v1/quotes", quote),
        ("buyer", "GET", f"/v1/leases/{lease['id']}", None),
        ("buyer", "GET", f"/v1/leases/{lease['id']}/budget", None),
        ("buyer", "GET", f"/v1/offers/{offer_id}", None),
        ("buyer", "GET", "/v1/me", None),
        ("provider", "GET", "/v1/datasets", None),
        ("auditor", "GET", "/v1/audit/head", None),
    ]
    with write_lock_held(world):
        for who, method, url, body in reads:
            started = time.monotonic()
            thread, out = in_thread(world.call, who, method, url, json=body)
            thread.join(PROMPT)
            assert not thread.is_alive(), f"{method} {url} waited for the write lock"
            assert out["response"].status_code < 300, out["response"].text
            assert time.monotonic() - started < PROMPT
        thread, out = in_thread(world.client.get, "/healthz")
        thread.join(PROMPT)
        assert not thread.is_alive(), "GET /healthz waited for the write lock"


def test_a_dp_query_waits_for_the_lock_only_to_charge(world: World, frame):
    _, offer_id = publish(world, frame)
    lease = paid_lease(world, offer_id, epsilon=5.0)
    url = f"/v1/leases/{lease['id']}/queries"
    with write_lock_held(world):
        thread, out = in_thread(world.call, "buyer", "POST", url, json=QUERY)
        time.sleep(0.5)
        assert thread.is_alive(), "the charge must wait for the write lock"
    thread.join(30)
    assert out["response"].status_code == 200, out["response"].text
    assert out["response"].json()["lease_epsilon_remaining"] == pytest.approx(4.9)


def test_a_read_session_refuses_to_write(world: World):
    with world.exchange.reads() as session:
        session.add(Account(id="acc_x", name="x", role="buyer", organisation="x"))
        with pytest.raises(RuntimeError, match="read-only"):
            session.flush()


def test_a_read_session_begins_without_the_write_lock(world: World):
    """Two read transactions and one write transaction are open at the same time."""
    with world.exchange.reads() as first, world.exchange.reads() as second:
        first.execute(text("SELECT count(*) FROM accounts"))
        second.execute(text("SELECT count(*) FROM accounts"))
        with world.exchange.sessions() as writer:
            writer.execute(text("UPDATE accounts SET name = name WHERE 1 = 0"))
            writer.commit()


def test_the_catalog_shows_a_new_policy_at_once(world: World, frame):
    """Catalog entries are memoised by the policy's hash, so a new policy is a new entry."""
    dataset_id, offer_id = publish(world, frame)
    before = world.call("buyer", "GET", "/v1/catalog").json()[0]
    policy = copy.deepcopy(POLICY)
    policy["columns"]["monthly_income"]["epsilon"] = 2.0
    policy["columns"]["household_size"] = {"class": "drop"}
    response = world.call("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)
    assert response.status_code == 200, response.text
    after = world.call("buyer", "GET", "/v1/catalog").json()[0]
    entry = world.call("buyer", "GET", f"/v1/catalog/{offer_id}").json()
    assert after["policy_hash"] != before["policy_hash"]
    for shown in (after, entry):
        assert shown["indicative_terms"]["epsilon"] == 2.0
        assert "household_size" not in [c["name"] for c in shown["schema"]]
    assert before["indicative_terms"]["epsilon"] == 1.0
