"""Governance in the console: compliance reviews a listing and decides an objection, the
transparency page shows both, and a lease's approval chain is decided step by step by the
provider and a district data officer, each seeing where the chain stands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from examples.generate_city_data import generate_citizens
from exchange.services import governance
from tests.console.conftest import App
from tests.console.test_console_session import sign_in
from tests.exchange.flows import POLICY, offer_body


def bearer(app: App, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.keys[who]}"}


def add_account(app: App, who: str, level: str | None, duties: list[str]) -> None:
    body = {"name": who, "role": "auditor", "organisation": f"{who} bureau", "duties": duties}
    if level:
        body["authority_level"] = level
    made = app.client.post("/v1/accounts", json=body, headers=bearer(app, "operator"))
    assert made.status_code == 201, made.text
    app.keys[who] = made.json()["api_key"]


def important_offer(app: App) -> tuple[str, str]:
    provider = bearer(app, "provider")
    csv = generate_citizens(200, seed=4).to_csv(index=False).encode()
    dataset = app.client.post(
        "/v1/datasets",
        files={"file": ("citizens.csv", csv, "text/csv")},
        data={"name": "citizens", "grade": "important", "domain": "population"},
        headers=provider,
    ).json()
    assert app.client.put(f"/v1/datasets/{dataset['id']}/policy", json=POLICY, headers=provider)
    offer = app.client.post("/v1/offers", json=offer_body(dataset["id"]), headers=provider)
    assert offer.status_code == 201 and offer.json()["review_status"] == "pending_review"
    return dataset["id"], offer.json()["id"]


def test_compliance_reviews_a_listing_and_decides_an_objection(app: App) -> None:
    add_account(app, "compliance", None, ["compliance"])
    dataset_id, offer_id = important_offer(app)
    sign_in(app, "provider")
    offers = app.client.get("/console/offers").text
    assert offer_id in offers and "pending_review" in offers
    app.client.cookies.clear()

    token = sign_in(app, "compliance")
    page = app.client.get("/console/reviews")
    assert 'href="/console/reviews"' in page.text and offer_id in page.text
    reviewed = app.client.post(
        f"/console/offers/{offer_id}/review",
        data={"csrf": token, "action": "approve", "reason": "terms and policy checked"},
    )
    assert reviewed.status_code == 200 and f"{offer_id} disclosed" in reviewed.text

    filed = app.client.post(
        f"/v1/transparency/{dataset_id}/objections",
        json={"text": "our pupils' trips", "name": "parents' committee"},
    )
    assert filed.status_code == 201, filed.text
    page = app.client.get("/console/reviews")
    assert "our pupils&#39; trips" in page.text and "parents&#39; committee" in page.text
    decided = app.client.post(
        f"/console/objections/{filed.json()['id']}/decision",
        data={"csrf": token, "action": "reject", "reason": "k-anonymous per pupil"},
    )
    assert decided.status_code == 200 and "rejected" in decided.text

    public = app.client.get(f"/console/transparency/{dataset_id}").text
    assert 'id="transparency-listings"' in public and "disclosed" in public
    assert "rejected: k-anonymous per pupil" in public
    assert "our pupils" not in public  # the objection's words stay with compliance


def test_a_lease_chain_is_decided_step_by_step_in_the_console(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_account(app, "compliance", None, ["compliance"])
    add_account(app, "district", "district", ["data_officer"])
    _, offer_id = important_offer(app)
    review = {"approve": True, "reason": "ok"}
    done = app.client.post(
        f"/v1/offers/{offer_id}/review", json=review, headers=bearer(app, "compliance")
    )
    assert done.status_code == 200, done.text
    real = governance.now_utc
    monkeypatch.setattr(governance, "now_utc", lambda: real() + timedelta(days=8))
    lease = app.client.post(
        "/v1/leases",
        json={"offer_id": offer_id, "purpose": "academic-research", "days": 30},
        headers=bearer(app, "buyer"),
    ).json()
    assert lease["awaiting"] == "data_officer", lease

    token = sign_in(app, "provider")
    page = app.client.get("/console/approvals").text
    assert 'class="step next"><strong>data_officer</strong>' in page
    approved = app.client.post(
        f"/console/leases/{lease['id']}/decision",
        data={"csrf": token, "action": "approve", "reason": "purpose fits"},
    )
    assert 'class="step done"><strong>data_officer</strong>' in approved.text
    assert "purpose fits" in approved.text
    app.client.cookies.clear()

    token = sign_in(app, "district")
    page = app.client.get("/console/approvals").text
    assert 'href="/console/approvals"' in page  # the duty opens the page to an auditor
    assert 'class="step next"><strong>district</strong>' in page
    app.client.post(
        f"/console/leases/{lease['id']}/decision",
        data={"csrf": token, "action": "approve", "reason": "district agrees"},
    )
    after = app.client.get(f"/v1/leases/{lease['id']}", headers=bearer(app, "buyer")).json()
    assert [a["level"] for a in after["approvals"]] == ["data_officer", "district"]
    assert after["awaiting"] == "municipal"
