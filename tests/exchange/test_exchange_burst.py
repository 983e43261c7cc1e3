"""A burst of 200 concurrent requests at a real server: every one is answered, none with a
5xx. Far more requests than worker threads or pooled connections must queue, not stall
until the pool times out (SQLite with one worker process, PostgreSQL with two). Should a
server still saturate, the answer is 503 with Retry-After, not 500."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from exchange.api.deps import DatabaseSlots
from exchange.api.errors import install_error_handlers
from exchange.errors import Busy
from tests.exchange.conftest import csv_bytes
from tests.exchange.flows import POLICY, offer_body
from tests.exchange.servers import ServeProcess

CONCURRENCY = 200
ROUNDS = 2  # requests per client, one after the other
# Well below the pool timeout (30 s) that a stalled server answers after.
DEADLINE_SECONDS = 25


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text[:500])
    return response.json()


def seed(server: ServeProcess, frame) -> dict[str, Any]:
    keys = {role: server.create_account(role, role)["api_key"] for role in ("provider", "buyer")}
    with server.client(keys["provider"]) as provider, server.client(keys["buyer"]) as buyer:
        dataset = ok(
            provider.post(
                "/v1/datasets",
                files={"file": ("citizens.csv", csv_bytes(frame), "text/csv")},
                data={"name": "citizens", "grade": "general", "domain": "population"},
            ),
            201,
        )["id"]
        ok(provider.put(f"/v1/datasets/{dataset}/policy", json=POLICY))
        offer = ok(provider.post("/v1/offers", json=offer_body(dataset)), 201)["id"]
        quote = {"offer_id": offer, "purpose": "traffic-planning", "days": 30, "epsilon": 5.0}
        lease = ok(buyer.post("/v1/leases", json=quote), 201)["id"]
        ok(buyer.post(f"/v1/leases/{lease}/pay"))
    return {"buyer": keys["buyer"], "offer": offer, "lease": lease, "quote": quote}


def requests_for(seeded: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    query = {"op": "count", "epsilon": 0.001}
    return [
        ("GET", "/healthz", None),
        ("GET", "/v1/me", None),
        ("GET", "/v1/catalog", None),
        ("GET", f"/v1/catalog/{seeded['offer']}", None),
        ("POST", "/v1/quotes", seeded["quote"]),
        ("GET", f"/v1/leases/{seeded['lease']}", None),
        ("POST", f"/v1/leases/{seeded['lease']}/queries", query),
    ]


async def burst(server: ServeProcess, seeded: dict[str, Any]) -> Counter[int]:
    kinds = requests_for(seeded)
    statuses: Counter[int] = Counter()
    # A connection per request: a pooled one left idle past the server's keep-alive timeout
    # may be closed just as it is reused, which would be the client's failure, not the
    # server's.
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {seeded['buyer']}"}
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=DEADLINE_SECONDS
    ) as client:

        async def one(i: int) -> None:
            for round_ in range(ROUNDS):
                method, path, body = kinds[(i + round_) % len(kinds)]
                response = await client.request(method, path, json=body)
                statuses[response.status_code] += 1

        await asyncio.gather(*(one(i) for i in range(CONCURRENCY)))
    return statuses


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_burst_of_200_concurrent_requests_gets_no_server_error(
    backend: str, tmp_path: Path, citizens_small, request: pytest.FixtureRequest
):
    url = request.getfixturevalue("pg_database_url") if backend == "postgres" else None
    server = ServeProcess(
        tmp_path / "data",
        tmp_path / "server.log",
        database_url=url,
        workers=2 if backend == "postgres" else 1,
        serve_args=("--no-access-log",),
    )
    with server:
        seeded = seed(server, citizens_small.head(300))
        statuses = asyncio.run(burst(server, seeded))
        assert sum(statuses.values()) == CONCURRENCY * ROUNDS
        assert set(statuses) <= {200, 201}, (statuses, server.log_tail())
        with server.client(seeded["buyer"]) as buyer:  # still answering after the burst
            assert ok(buyer.get("/healthz"))["status"] == "ok"


def test_requests_beyond_the_database_slots_wait_then_get_busy():
    async def scenario() -> list[str]:
        slots = DatabaseSlots(1, wait_seconds=0.5)
        seen: list[str] = []

        async def request(name: str, hold: float) -> None:
            try:
                async with slots.hold():
                    seen.append(name)
                    await asyncio.sleep(hold)
            except Busy:
                seen.append(f"{name}: busy")

        # The second waits its turn; the third waits longer than wait_seconds.
        await asyncio.gather(request("a", 0.1), request("b", 1.0), request("c", 0))
        return seen

    assert asyncio.run(scenario()) == ["a", "b", "c: busy"]


@pytest.mark.parametrize("error", [Busy("slots"), PoolTimeout("QueuePool limit reached")])
def test_saturation_is_answered_503_with_retry_after(error: Exception):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/saturated")
    def saturated() -> None:
        raise error

    response = TestClient(app, raise_server_exceptions=False).get("/saturated")
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "busy"
