"""Idempotency keys: same key and body applied once; another body refused; no secret kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from exchange.db.models import IdempotencyRecord, Lease
from tests.exchange.conftest import World, database_cells
from tests.exchange.flows import offer_body, publish


def database_rows_containing(world: World, needle: str) -> list[str]:
    """Every column of every row, decoded, that contains ``needle``."""
    return [
        f"{table}.{column}"
        for table, column, cell in database_cells(world)
        if (needle.encode() if isinstance(cell, bytes) else needle) in cell
    ]


def lease_count(world: World) -> int:
    with world.exchange.sessions() as session:
        return session.scalar(select(func.count()).select_from(Lease)) or 0


@pytest.fixture
def two_offers(world, citizens_small) -> tuple[str, str]:
    dataset_id, first = publish(world, citizens_small.head(300))
    second = world.call(
        "provider", "POST", "/v1/offers", json=offer_body(dataset_id, title="second offer", k=2)
    )
    assert second.status_code == 201, second.text
    return first, second.json()["id"]


def lease_body(offer_id: str, **extra: object) -> dict[str, object]:
    return {"offer_id": offer_id, "purpose": "traffic-planning", "days": 30, **extra}


def test_the_same_key_and_body_is_applied_once_with_the_same_response(world, two_offers):
    key = {"Idempotency-Key": "lease-once"}
    first = world.call("buyer", "POST", "/v1/leases", json=lease_body(two_offers[0]), headers=key)
    retry = world.call("buyer", "POST", "/v1/leases", json=lease_body(two_offers[0]), headers=key)
    assert first.status_code == retry.status_code == 201, first.text
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replay"] == "true"
    assert lease_count(world) == 1


def test_the_same_key_with_another_lease_request_is_refused_and_nothing_applied(world, two_offers):
    key = {"Idempotency-Key": "lease-attack"}
    first = world.call("buyer", "POST", "/v1/leases", json=lease_body(two_offers[0]), headers=key)
    assert first.status_code == 201, first.text
    other = world.call("buyer", "POST", "/v1/leases", json=lease_body(two_offers[1]), headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "idempotent-replay" not in other.headers
    assert lease_count(world) == 1
    leases = world.call("buyer", "GET", "/v1/leases").json()
    assert [lease["offer_id"] for lease in leases] == [two_offers[0]]


@pytest.mark.parametrize(
    "change",
    [
        {"json": {"offer_id": "x", "purpose": "traffic-planning", "days": 31}},
        {"url": "/v1/quotes"},
        {"params": {"dry": "1"}},
    ],
    ids=["body", "path", "query"],
)
def test_any_change_to_the_request_is_a_reused_key(world, change):
    key = {"Idempotency-Key": "quote-key"}
    body = {"offer_id": "x", "purpose": "traffic-planning", "days": 30}
    first = world.call("buyer", "POST", "/v1/leases", json=body, headers=key)
    assert first.status_code == 404, first.text  # a stored, final answer
    url = change.pop("url", "/v1/leases")
    again = world.call("buyer", "POST", url, **{"json": body, **change}, headers=key)
    assert again.status_code == 422, again.text
    assert again.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_are_scoped_to_the_caller(world, two_offers):
    key = {"Idempotency-Key": "shared-name"}
    one = world.call("buyer", "POST", "/v1/leases", json=lease_body(two_offers[0]), headers=key)
    two = world.call("buyer2", "POST", "/v1/leases", json=lease_body(two_offers[1]), headers=key)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


def test_a_new_account_key_is_never_stored_and_a_replay_is_a_conflict(world):
    key = {"Idempotency-Key": "new-account"}
    body = {"name": "retry-safe", "role": "buyer", "organisation": "南山研究院"}
    created = world.call("operator", "POST", "/v1/accounts", json=body, headers=key)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    api_key, account_id = created.json()["api_key"], created.json()["id"]

    replay = world.call("operator", "POST", "/v1/accounts", json=body, headers=key)
    assert replay.status_code == 409, replay.text
    assert replay.json()["error"]["code"] == "idempotent_secret_withheld"
    assert account_id in replay.json()["error"]["message"]
    assert api_key not in replay.text
    other = world.call("operator", "POST", "/v1/accounts", json={**body, "name": "x"}, headers=key)
    assert other.status_code == 422
    accounts = world.call("operator", "GET", "/v1/accounts").json()
    assert [a["name"] for a in accounts].count("retry-safe") == 1

    assert world.client.get("/v1/me", headers={"Authorization": f"Bearer {api_key}"}).is_success
    assert database_rows_containing(world, api_key) == []
    assert database_rows_containing(world, api_key[8:24]) == []


def test_an_issued_api_key_is_never_stored(world):
    key = {"Idempotency-Key": "rotate-1"}
    url = f"/v1/accounts/{world.ids['buyer']}/keys"
    issued = world.call("operator", "POST", url, headers=key)
    assert issued.status_code == 201, issued.text
    api_key = issued.json()["api_key"]
    replay = world.call("operator", "POST", url, headers=key)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "idempotent_secret_withheld"
    assert api_key not in replay.text
    assert database_rows_containing(world, api_key) == []
    with world.exchange.sessions() as session:
        stored = session.scalars(select(IdempotencyRecord)).all()
    assert stored and all(api_key.encode() not in (r.body or b"") for r in stored)


def test_a_refused_secret_request_is_replayed_as_it_was(world):
    key = {"Idempotency-Key": "not-allowed"}
    body = {"name": "sneaky", "role": "operator"}
    first = world.call("buyer", "POST", "/v1/accounts", json=body, headers=key)
    again = world.call("buyer", "POST", "/v1/accounts", json=body, headers=key)
    assert first.status_code == again.status_code == 403
    assert again.headers["idempotent-replay"] == "true"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_method_the_route_lacks_is_a_405_key_or_not(world, method):
    """A key must not turn an unsupported method into a stored 422 for a later request."""
    key = {"Idempotency-Key": f"wrong-method-{method}"}
    answer = world.call("buyer", method, "/v1/leases", json={"offer_id": "x"}, headers=key)
    assert answer.status_code == 405, answer.text
    assert world.call("buyer", method, "/v1/nowhere", headers=key).status_code == 404
    with world.exchange.sessions() as session:
        assert not session.scalar(select(func.count()).select_from(IdempotencyRecord))


def test_a_body_that_is_not_json_is_a_422_like_any_invalid_body(world):
    answer = world.call(
        "buyer",
        "POST",
        "/v1/leases",
        content=b"\x15\xff{",
        headers={"Content-Type": "application/json", "Idempotency-Key": "not-json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == {
        "code": "invalid",
        "message": "body: the request body is not valid JSON",
    }


def test_a_405_names_every_method_the_path_takes(world):
    answer = world.call("operator", "DELETE", "/v1/accounts")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_a_body_with_an_id_number_leaves_no_unkeyed_hash_of_it(world):
    """Registering a data subject sends a resident ID number: the stored fingerprint must
    not let anyone holding the database test guessed numbers against it."""
    import hashlib
    import json

    from exchange.api.idempotency import fingerprint, hash_key

    body = {"name": "q", "identifier": "110101190001011237", "evidence": "RN-2"}
    raw = json.dumps(body).encode()
    answer = world.call(
        "operator",
        "POST",
        "/v1/subjects",
        content=raw,
        headers={"Content-Type": "application/json", "Idempotency-Key": "register-q"},
    )
    assert answer.status_code == 201, answer.text
    scope = {"method": "POST", "path": "/v1/subjects", "query_string": b""}
    guess = fingerprint(scope, hash_key(world.keys["operator"]), hashlib.sha256(raw).hexdigest())
    with world.exchange.sessions() as session:
        stored = session.scalars(select(IdempotencyRecord.fingerprint)).all()
    assert stored and guess not in stored
    assert not database_rows_containing(world, hashlib.sha256(raw).hexdigest())
    assert not database_rows_containing(world, "110101190001011237")
