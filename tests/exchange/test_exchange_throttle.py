"""Failed-authentication throttling: 429 with Retry-After past the limit, per address and prefix."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from exchange.api.throttle import SlidingWindow
from tests.exchange.servers import ServeProcess


def wrong_key(prefix: str = "dl_") -> str:
    """A well-formed key that was never issued (issued keys are "dl_" and 43 characters)."""
    return prefix + secrets.token_urlsafe(32)[len(prefix) - 3 :]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_refuses_past_the_limit_until_the_oldest_event_leaves_it():
    clock = Clock()
    window = SlidingWindow(3, 60, clock=clock)
    for _ in range(3):
        assert window.retry_after("a") is None
        window.add("a")
        clock.now += 10
    assert window.retry_after("a") == pytest.approx(30)  # first event at 1000, now 1030
    assert window.retry_after("b") is None
    clock.now = 1060.5
    assert window.retry_after("a") is None  # the first event has left the window


def test_the_window_remembers_a_bounded_number_of_keys_and_events():
    window = SlidingWindow(5, 60, max_keys=100)
    for i in range(1000):
        for _ in range(10):
            window.add(f"k{i}")
    assert len(window) == 100
    assert window.retry_after("k999") is not None
    assert window.retry_after("k0") is None  # evicted, the oldest first


@pytest.mark.parametrize(("limit", "window", "max_keys"), [(0, 60, 1), (1, 0, 1), (1, 60, 0)])
def test_the_window_refuses_nonsense_settings(limit, window, max_keys):
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindow(limit, window, max_keys=max_keys)


def test_a_thousand_wrong_keys_are_throttled_and_other_addresses_are_not(world):
    limit = world.exchange.settings.auth_failure_limit
    started = time.perf_counter()
    answers = [world.client.get("/v1/me", headers=bearer(wrong_key())) for _ in range(1000)]
    elapsed = time.perf_counter() - started
    codes = [a.status_code for a in answers]
    assert codes[:limit] == [401] * limit
    assert codes[limit:] == [429] * (1000 - limit)
    retry = int(answers[-1].headers["retry-after"])
    assert 1 <= retry <= world.exchange.settings.auth_failure_window_seconds
    assert answers[-1].json()["error"]["code"] == "too_many_failed_authentications"
    assert elapsed < 30

    # the blocked address is refused before any key is looked up, valid keys included
    assert world.call("buyer", "GET", "/v1/me").status_code == 429
    # another address with a valid key is unaffected; its wrong keys still get plain 401s
    elsewhere = TestClient(world.client.app, client=("203.0.113.7", 50000))
    assert elsewhere.get("/v1/me", headers=world.as_("buyer")).status_code == 200
    assert elsewhere.get("/v1/me", headers=bearer(wrong_key())).status_code == 401
    # requests without a key are not failed authentications
    assert world.client.get("/healthz").status_code == 200


def test_successful_requests_are_never_counted(world):
    limit = world.exchange.settings.auth_failure_limit
    for _ in range(limit * 3):
        assert world.call("buyer", "GET", "/v1/me").status_code == 200
    assert world.client.get("/v1/me", headers=bearer(wrong_key())).status_code == 401


def test_wrong_keys_with_one_prefix_from_many_addresses_are_throttled(world):
    limit = world.exchange.settings.auth_failure_limit
    prefix = world.keys["buyer"][:8]  # an attacker who has seen the buyer's key prefix
    codes = []
    for i in range(limit + 5):
        client = TestClient(world.client.app, client=(f"198.51.100.{i + 1}", 40000))
        answer = client.get("/v1/me", headers=bearer(wrong_key(prefix)))
        codes.append(answer.status_code)
    assert codes == [401] * (limit - 1) + [429] * 6
    assert "retry-after" in answer.headers
    # the holder of the real key with that prefix is not locked out
    assert world.call("buyer", "GET", "/v1/me").status_code == 200


def test_a_real_server_throttles_wrong_keys_per_address(tmp_path):
    with ServeProcess(tmp_path / "data", tmp_path / "server.log") as server:
        buyer = server.create_account("buyer", "b")
        codes, retry_after = [], set()
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=30) as attacker:
            for _ in range(1000):
                answer = attacker.get("/v1/me", headers=bearer(wrong_key()))
                codes.append(answer.status_code)
                if answer.status_code == 429:
                    retry_after.add(answer.headers["retry-after"])
        elapsed = time.perf_counter() - started
        assert codes.count(401) == 20 and codes.count(429) == 980, codes[:30]
        assert codes[:20] == [401] * 20
        assert retry_after and all(1 <= int(v) <= 60 for v in retry_after)
        # a valid key from another loopback address still works
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=server.url, transport=transport, timeout=30) as other:
            assert other.get("/v1/me", headers=bearer(buyer["api_key"])).status_code == 200
    assert elapsed < 60
