"""Who may call what: every endpoint against every role, ownership, and a read-only auditor.

Each test builds one small exchange (a published offer, a paid lease and the other objects
the write endpoints need) and walks the whole table for one caller, so the table stays a
table and the suite stays fast.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from exchange.jobs.follow import wait_for_job
from tests.exchange.conftest import World, csv_bytes
from tests.exchange.flows import POLICY, lease, offer_body, paid_lease, publish

ROLES = ("none", "provider", "provider2", "buyer", "buyer2", "auditor", "operator")
ACCOUNTS = ROLES[1:]
OK = "2xx"


@dataclass
class State:
    """Ids of the objects the table's URLs and bodies name."""

    dataset: str  # provider's general-grade dataset with a published offer
    offer: str
    spare_offer: str  # withdrawn by whoever may withdraw
    paid: str  # buyer's paid, active lease
    approved: str  # buyer's approved, unpaid lease (to pay)
    revocable: str  # buyer's approved lease (to revoke)
    requested_a: str  # buyer's lease on important-grade data (to approve)
    requested_b: str  # the same (to reject)
    spare_account: str  # its keys are rotated and revoked by whoever may
    spare_key: str
    budget_a: str  # provider's pending budget requests (to approve, to reject)
    budget_b: str
    job: str  # the job making the paid lease's extract, started by the buyer
    other: str  # another dataset of the provider's, with an offer
    right: str  # an entry of the dataset's rights register (to revoke)
    subject: str  # a data subject's account (to link a ward to)


def build_state(world: World, frame: pd.DataFrame) -> State:
    dataset, offer = publish(world, frame, epsilon_cap=50.0)
    spare = world.call("provider", "POST", "/v1/offers", json=offer_body(dataset, epsilon_cap=50.0))
    assert spare.status_code == 201, spare.text
    important, important_offer = publish(world, frame, grade="important", epsilon_cap=50.0)
    other, _ = publish(world, frame, epsilon_cap=50.0)
    rights = [
        world.call(
            "provider",
            "POST",
            f"/v1/datasets/{dataset}/rights",
            json={"right": right, "holder": holder, "evidence": "SZ-DR-1"},
        )
        for right, holder in [
            ("holding", "provider"),
            ("processing", "party:futian-dc"),
            ("operation", "party:futian-dc"),
        ]
    ]
    assert all(r.status_code == 201 for r in rights), [r.text for r in rights]
    subject = world.call(
        "operator",
        "POST",
        "/v1/subjects",
        json={"name": "p", "identifier": str(frame["resident_id"].iloc[0]), "evidence": "RN"},
    )
    assert subject.status_code == 201, subject.text
    budget = [
        world.call(
            "provider",
            "POST",
            f"/v1/datasets/{d}/budget-requests",
            json={"epsilon_cap": 60.0, "reason": "a second year of leases"},
        )
        for d in (important, other)
    ]
    assert all(b.status_code == 201 for b in budget), [b.text for b in budget]
    spare_account = world.call(
        "operator", "POST", "/v1/accounts", json={"name": "spare", "role": "buyer"}
    )
    assert spare_account.status_code == 201, spare_account.text
    paid = paid_lease(world, offer)["id"]
    # The first ask starts the job; the test client here does not wait for it.
    started = world.client.get(f"/v1/leases/{paid}/extract", headers=world.as_("buyer"))
    assert started.status_code == 202, started.text
    return State(
        job=started.json()["id"],
        other=other,
        right=rights[2].json()["id"],
        subject=subject.json()["id"],
        spare_account=spare_account.json()["id"],
        spare_key=spare_account.json()["api_key"],
        dataset=dataset,
        offer=offer,
        spare_offer=spare.json()["id"],
        paid=paid,
        approved=lease(world, offer)["id"],
        revocable=lease(world, offer)["id"],
        requested_a=lease(world, important_offer)["id"],
        requested_b=lease(world, important_offer)["id"],
        budget_a=budget[0].json()["id"],
        budget_b=budget[1].json()["id"],
    )


def _upload_kwargs(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "files": {"file": ("t.csv", io.BytesIO(csv_bytes(frame)), "text/csv")},
        "data": {"name": "more citizens", "grade": "general", "domain": "population"},
    }


def _lease_body(s: State) -> dict[str, Any]:
    return {"offer_id": s.offer, "purpose": "traffic-planning", "days": 10, "epsilon": 0.5}


# (name, method, url, request kwargs, {role: expected}); roles left out expect 403,
# "none" left out expects 401. OK means any 2xx status.
PUBLIC = {r: OK for r in ROLES}
ANY_ACCOUNT = {r: OK for r in ACCOUNTS}
AUDIT = {"auditor": OK, "operator": OK}
BUYER_OWN = {"buyer": OK}
OWN_PROVIDER = {"provider": OK}
LEASE_READERS = {"buyer": OK, "provider": OK, "auditor": OK, "operator": OK}
# A job is seen by whoever started it and by operators; to anyone else it does not exist.
JOB_VIEWERS = {"buyer": OK, "operator": OK} | {
    r: "404" for r in ACCOUNTS if r not in ("buyer", "operator")
}


_RIGHT = {"json": {"right": "operation", "holder": "provider", "evidence": "SZ-DR-2"}}
_PERSON = {"json": {"name": "q", "identifier": "110101190001011237", "evidence": "RN-2"}}
_WARD = {"json": {"identifier": "S0000001", "label": "child", "evidence": "register"}}
_REVIEW = {"json": {"approve": True, "reason": "checked"}}
_OBJECTION = {"json": {"text": "an objection"}}
_DECISION = {"json": {"uphold": False, "reason": "checked"}}
CLOSED = {r: "409" for r in ROLES}


def table(s: State, frame: pd.DataFrame) -> list[tuple[str, str, str, dict[str, Any], dict]]:
    lease_url = f"/v1/leases/{s.paid}"
    return [
        ("healthz", "GET", "/healthz", {}, PUBLIC),
        ("public key", "GET", "/v1/ledger/public-key", {}, PUBLIC),
        ("transparency", "GET", f"/v1/transparency/{s.dataset}", {}, PUBLIC),
        ("me", "GET", "/v1/me", {}, ANY_ACCOUNT),
        ("account list", "GET", "/v1/accounts", {}, {"operator": OK}),
        ("dataset list", "GET", "/v1/datasets", {}, {"provider": OK, "provider2": OK, **AUDIT}),
        ("dataset", "GET", f"/v1/datasets/{s.dataset}", {}, {"provider": OK, **AUDIT}),
        # real rows before a lease: the dataset's own provider only, not auditors or operators
        ("preview", "GET", f"/v1/datasets/{s.dataset}/preview", {}, OWN_PROVIDER),
        ("offer", "GET", f"/v1/offers/{s.offer}", {}, ANY_ACCOUNT),
        ("catalog", "GET", "/v1/catalog", {}, ANY_ACCOUNT),
        ("catalog entry", "GET", f"/v1/catalog/{s.offer}", {}, ANY_ACCOUNT),
        ("lease list", "GET", "/v1/leases", {}, ANY_ACCOUNT),
        ("lease", "GET", lease_url, {}, LEASE_READERS),
        ("receipts", "GET", f"{lease_url}/receipts", {}, LEASE_READERS),
        ("query budget", "GET", f"{lease_url}/budget", {}, LEASE_READERS),
        ("revenue", "GET", "/v1/revenue", {}, {"provider": OK, "provider2": OK}),
        ("audit head", "GET", "/v1/audit/head", {}, AUDIT),
        ("audit entries", "GET", "/v1/audit/entries", {}, AUDIT),
        ("inclusion", "GET", "/v1/audit/proofs/inclusion?index=0", {}, AUDIT),
        ("consistency", "GET", "/v1/audit/proofs/consistency?old_size=1", {}, AUDIT),
        ("export", "GET", "/v1/audit/export", {}, AUDIT),
        ("events", "GET", "/v1/audit/events", {}, AUDIT),
        (
            "trace",
            "POST",
            "/v1/audit/trace",
            {"files": {"file": ("leak.csv", io.BytesIO(b"monthly_income\n1.5\n"), "text/csv")}},
            AUDIT,
        ),
        ("budgets", "GET", "/v1/audit/budgets", {}, AUDIT),
        (
            "budget requests",
            "GET",
            "/v1/budget-requests",
            {},
            {"provider": OK, "provider2": OK, **AUDIT},
        ),
        ("audit revenue", "GET", "/v1/audit/revenue", {}, AUDIT),
        ("extract csv", "GET", f"{lease_url}/extract?format=csv", {}, BUYER_OWN),
        ("extract parquet", "GET", f"{lease_url}/extract?format=parquet", {}, BUYER_OWN),
        ("job", "GET", f"/v1/jobs/{s.job}", {}, JOB_VIEWERS),
        ("rights", "GET", f"/v1/datasets/{s.dataset}/rights", {}, ANY_ACCOUNT),
        ("offer list", "GET", "/v1/offers", {}, {"provider": OK, "provider2": OK, **AUDIT}),
        ("objections", "GET", "/v1/objections", {}, AUDIT),
        # Only data subjects, and there is none among the roles here.
        ("my data", "GET", "/v1/subjects/me", {}, {}),
        ("my records", "GET", f"/v1/subjects/me/records/{s.dataset}", {}, {}),
        ("my dividends", "GET", "/v1/subjects/me/dividends", {}, {}),
        # writes
        (
            "create account",
            "POST",
            "/v1/accounts",
            {"json": {"name": "new", "role": "buyer", "organisation": "x"}},
            {"operator": OK},
        ),
        ("issue key", "POST", f"/v1/accounts/{s.spare_account}/keys", {}, {"operator": OK}),
        (
            "revoke keys",
            "POST",
            f"/v1/accounts/{s.spare_account}/revoke-keys",
            {},
            {"operator": OK},
        ),
        (
            "upload",
            "POST",
            "/v1/datasets",
            _upload_kwargs(frame),
            {"provider": OK, "provider2": OK},
        ),
        ("policy", "PUT", f"/v1/datasets/{s.dataset}/policy", {"json": POLICY}, {"provider": OK}),
        (
            "create offer",
            "POST",
            "/v1/offers",
            {"json": offer_body(s.dataset, epsilon_cap=None)},
            {"provider": OK},
        ),
        (
            "request budget",
            "POST",
            f"/v1/datasets/{s.dataset}/budget-requests",
            {"json": {"epsilon_cap": 80.0, "reason": "more research leases"}},
            {"provider": OK},
        ),
        (
            "approve budget",
            "POST",
            f"/v1/budget-requests/{s.budget_a}/approve",
            {"json": {"reason": "reviewed"}},
            {"operator": OK},
        ),
        (
            "reject budget",
            "POST",
            f"/v1/budget-requests/{s.budget_b}/reject",
            {"json": {"reason": "no case made"}},
            {"operator": OK},
        ),
        ("withdraw", "POST", f"/v1/offers/{s.spare_offer}/withdraw", {}, {"provider": OK}),
        (
            "register right",
            "POST",
            f"/v1/datasets/{s.dataset}/rights",
            _RIGHT,
            {"provider": OK, "operator": OK},
        ),
        (
            "revoke right",
            "POST",
            f"/v1/datasets/{s.dataset}/rights/{s.right}/revoke",
            {"json": {"reason": "ended"}},
            {"provider": OK, "operator": OK},
        ),
        (
            "subject column",
            "PUT",
            f"/v1/datasets/{s.other}/subject-column",
            {"json": {"column": "resident_id"}},
            {"provider": OK},
        ),
        (
            "minors",
            "PUT",
            f"/v1/datasets/{s.other}/minors",
            {"json": {"basis": None}},
            {"provider": OK},
        ),
        ("register subject", "POST", "/v1/subjects", _PERSON, {"operator": OK}),
        ("link ward", "POST", f"/v1/subjects/{s.subject}/wards", _WARD, {"operator": OK}),
        ("withdraw consent", "POST", "/v1/subjects/me/withdrawals", {"json": {}}, {}),
        ("dividends", "POST", "/v1/dividends", {}, {"operator": OK}),
        (
            "quote",
            "POST",
            "/v1/quotes",
            {"json": _lease_body(s)},
            {"buyer": OK, "buyer2": OK},
        ),
        (
            "request lease",
            "POST",
            "/v1/leases",
            {"json": _lease_body(s)},
            {"buyer": OK, "buyer2": OK},
        ),
        ("approve", "POST", f"/v1/leases/{s.requested_a}/approve", {}, {"provider": OK}),
        ("reject", "POST", f"/v1/leases/{s.requested_b}/reject", {}, {"provider": OK}),
        # No account here holds the compliance duty; no listing is in its disclosure.
        ("listing review", "POST", f"/v1/offers/{s.offer}/review", _REVIEW, {}),
        ("objection", "POST", f"/v1/transparency/{s.dataset}/objections", _OBJECTION, CLOSED),
        ("objection decision", "POST", "/v1/objections/obj_none/decision", _DECISION, {}),
        ("pay", "POST", f"/v1/leases/{s.approved}/pay", {}, BUYER_OWN),
        (
            "query",
            "POST",
            f"{lease_url}/queries",
            {"json": {"op": "count", "epsilon": 0.1}},
            BUYER_OWN,
        ),
        (
            "revoke",
            "POST",
            f"/v1/leases/{s.revocable}/revoke",
            {"json": {"reason": "test"}},
            {"provider": OK, "operator": OK},
        ),
    ]


def test_the_table_names_every_route(world, small):
    """A new endpoint must be added to the table, with who may call it."""
    rows = table(build_state(world, small), small)
    routes = [
        (method.upper(), path, re.compile(re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$"))
        for path, item in world.client.app.openapi()["paths"].items()
        for method in item
    ]
    covered = set()
    for name, method, url, _, _ in rows:
        path = url.split("?")[0]
        hits = [(m, p) for m, p, pattern in routes if m == method and pattern.match(path)]
        assert len(hits) == 1, (name, hits)
        covered.add(hits[0])
    missing = {(m, p) for m, p, _ in routes} - covered
    assert not missing, f"endpoints missing from the authorization table: {sorted(missing)}"


def expected_for(role: str, allowed: dict[str, str]) -> str:
    if role in allowed:
        return allowed[role]
    return "401" if role == "none" else "403"


def matches(status: int, expected: str) -> bool:
    return 200 <= status < 300 if expected == OK else status == int(expected)


def call(world: World, role: str, method: str, url: str, kwargs: dict[str, Any]):
    kwargs = dict(kwargs)
    if "files" in kwargs:  # a fresh stream per call
        name, fh, kind = kwargs["files"]["file"]
        kwargs["files"] = {"file": (name, io.BytesIO(fh.getvalue()), kind)}
    if role == "none":
        return world.client.request(method, url, **kwargs)
    return world.call(role, method, url, **kwargs)


@pytest.fixture
def settings(settings):
    """These tests send hundreds of bad keys from one address on purpose: they check the
    answers, not the throttle (test_exchange_throttle.py), so the limit is out of reach."""
    return settings.model_copy(update={"auth_failure_limit": 1_000_000})


@pytest.fixture
def small(citizens_small: pd.DataFrame) -> pd.DataFrame:
    return citizens_small.head(120)


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_the_table_says(world, small, role):
    state = build_state(world, small)
    wrong = []
    for name, method, url, kwargs, allowed in table(state, small):
        response = call(world, role, method, url, kwargs)
        expected = expected_for(role, allowed)
        if not matches(response.status_code, expected):
            wrong.append(f"{name}: {method} {url} -> {response.status_code}, want {expected}")
            continue
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"], (name, response.text)
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


def test_a_bad_or_malformed_key_is_401_everywhere(world, small):
    state = build_state(world, small)
    for name, method, url, kwargs, allowed in table(state, small):
        if allowed is PUBLIC or allowed is CLOSED:  # no key needed, so none is checked
            continue
        for header in ("Bearer dl_not-a-real-key", "Basic abc", "Bearer ", "dl_no-scheme"):
            response = world.client.request(
                method, url, headers={"Authorization": header}, **kwargs
            )
            assert response.status_code == 401, (name, header, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
    # a key that worked stops working once the operator revokes it; a new key works
    spare = {"Authorization": f"Bearer {state.spare_key}"}
    assert world.client.get("/v1/me", headers=spare).status_code == 200
    url = f"/v1/accounts/{state.spare_account}"
    fresh = world.call("operator", "POST", f"{url}/keys").json()["api_key"]
    assert world.call("operator", "POST", f"{url}/revoke-keys").status_code == 200
    for key in (state.spare_key, fresh):
        response = world.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401, response.text


def test_another_partys_objects_are_403_and_missing_ones_404(world, small):
    state = build_state(world, small)
    # provider2's own dataset and lease, seen by the first provider and the other buyer
    upload = world.call("provider2", "POST", "/v1/datasets", **_upload_kwargs(small))
    assert upload.status_code == 201, upload.text
    theirs = upload.json()["id"]
    for method, url, body in [
        ("GET", f"/v1/datasets/{theirs}", None),
        ("GET", f"/v1/datasets/{theirs}/preview", None),
        ("PUT", f"/v1/datasets/{theirs}/policy", POLICY),
        ("POST", "/v1/offers", offer_body(theirs)),
    ]:
        response = world.call("provider", method, url, json=body)
        assert response.status_code == 403, (url, response.text)
    assert theirs not in {d["id"] for d in world.call("provider", "GET", "/v1/datasets").json()}

    for method, url in [
        ("GET", f"/v1/leases/{state.paid}"),
        ("GET", f"/v1/leases/{state.paid}/receipts"),
        ("GET", f"/v1/leases/{state.paid}/extract"),
        ("GET", f"/v1/leases/{state.paid}/extract?format=parquet"),
        ("POST", f"/v1/leases/{state.paid}/queries"),
        ("POST", f"/v1/leases/{state.approved}/pay"),
    ]:
        body = {"op": "count", "epsilon": 0.1} if url.endswith("queries") else None
        response = world.call("buyer2", method, url, json=body)
        assert response.status_code == 403, (url, response.text)
        assert "another buyer" in response.json()["error"]["message"]
    for method, url in [
        ("GET", f"/v1/leases/{state.paid}"),
        ("POST", f"/v1/leases/{state.paid}/revoke"),
        ("POST", f"/v1/leases/{state.requested_a}/approve"),
        ("POST", f"/v1/leases/{state.requested_b}/reject"),
    ]:
        response = world.call("provider2", method, url)
        assert response.status_code == 403, (url, response.text)
        assert "another provider" in response.json()["error"]["message"]
    assert world.call("provider2", "POST", f"/v1/offers/{state.offer}/withdraw").status_code == 403

    # lists show only one's own leases
    assert world.call("buyer2", "GET", "/v1/leases").json() == []
    assert world.call("provider2", "GET", "/v1/leases").json() == []
    assert len(world.call("buyer", "GET", "/v1/leases").json()) == 5

    # none of the refused calls changed anything
    paid = world.call("buyer", "GET", f"/v1/leases/{state.paid}").json()
    assert (paid["status"], paid["downloads"], paid["epsilon_queries_spent"]) == ("active", 0, 0)
    for lease_id, status in [
        (state.approved, "approved"),
        (state.requested_a, "requested"),
        (state.requested_b, "requested"),
    ]:
        assert world.call("buyer", "GET", f"/v1/leases/{lease_id}").json()["status"] == status
    assert world.call("buyer", "GET", f"/v1/offers/{state.offer}").json()["status"] == "active"

    for who, url in [
        ("buyer", "/v1/leases/lse_missing"),
        ("buyer", "/v1/leases/lse_missing/receipts"),
        ("buyer", "/v1/leases/lse_missing/extract"),
        ("buyer", "/v1/offers/off_missing"),
        ("buyer", "/v1/catalog/off_missing"),
        ("provider", "/v1/datasets/ds_missing"),
        ("provider", "/v1/datasets/ds_missing/preview"),
        ("auditor", "/v1/transparency/ds_missing"),
    ]:
        response = world.call(who, "GET", url)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["error"]["code"] == "not_found"


def test_the_auditor_can_write_nothing(world, small):
    state = build_state(world, small)
    # The extract job build_state started records its receipt when it ends: let it end
    # before the head is read, or that entry counts as one the auditor wrote.
    wait_for_job(world.client, f"/v1/jobs/{state.job}", headers=world.as_("buyer"))
    before_head = world.call("auditor", "GET", "/v1/audit/head").json()
    before_leases = world.call("auditor", "GET", "/v1/leases").json()
    # Tracing a leak is a read that carries a file, so it is a POST.
    writes = [
        row
        for row in table(state, small)
        # Objections are the public's, auditors included: anyone may file one.
        if row[1] in ("POST", "PUT", "PATCH", "DELETE") and row[0] not in ("trace", "objection")
    ]
    assert len(writes) >= 12
    for name, method, url, kwargs, _ in writes:
        for key in ({}, {"Idempotency-Key": f"auditor-{name}"}):
            response = call(world, "auditor", method, url, {**kwargs, "headers": key})
            assert response.status_code == 403, (name, response.text)
            assert response.json()["error"]["code"] == "forbidden"
    # nothing reached the log or the leases
    assert world.call("auditor", "GET", "/v1/audit/head").json()["size"] == before_head["size"]
    assert world.call("auditor", "GET", "/v1/leases").json() == before_leases
    assert len(world.call("operator", "GET", "/v1/datasets").json()) == 3
