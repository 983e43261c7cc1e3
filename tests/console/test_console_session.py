"""The console's session, CSRF and authorization, request by request (no browser)."""

from __future__ import annotations

import io
import json
import re

from examples.generate_city_data import generate_citizens
from tests.console.conftest import App
from tests.exchange.flows import POLICY, offer_body

TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def csrf(html: str) -> str:
    found = TOKEN.search(html)
    assert found, html[:500]
    return found.group(1)


def sign_in(app: App, who: str) -> str:
    """Sign in as ``who``; the session's CSRF token."""
    page = app.client.get("/console")
    answer = app.client.post(
        "/console/sign-in",
        data={"csrf": csrf(page.text), "api_key": app.keys[who]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf(app.client.get(answer.headers["location"]).text)


def upload(app: App, token: str) -> str:
    data = generate_citizens(200, seed=3).to_csv(index=False).encode()
    answer = app.client.post(
        "/console/datasets",
        headers={"X-CSRF-Token": token},
        files={"file": ("citizens.csv", io.BytesIO(data), "text/csv")},
        data={"name": "citizens", "grade": "general", "domain": "population"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_the_session_cookie_hides_the_key_and_stays_on_this_site(app: App) -> None:
    page = app.client.get("/console")
    answer = app.client.post(
        "/console/sign-in",
        data={"csrf": csrf(page.text), "api_key": app.keys["provider"]},
        follow_redirects=False,
    )
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("datalease_console=")
    )
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "path=/console" in attributes
    assert app.keys["provider"] not in cookie
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert app.keys["provider"][8:] not in value  # not even the key's secret part

    # A tampered cookie is no session at all.
    app.client.cookies.set("datalease_console", value[:-4] + "AAAA", path="/console")
    assert app.client.get("/console/datasets", follow_redirects=False).status_code == 303


def test_a_wrong_key_or_a_forged_sign_in_form_gets_no_session(app: App) -> None:
    page = app.client.get("/console")
    wrong = app.client.post(
        "/console/sign-in",
        data={"csrf": csrf(page.text), "api_key": "dl_not_a_key"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    assert "datalease_console=" not in " ".join(wrong.headers.get_list("set-cookie"))
    app.client.cookies.clear()
    forged = app.client.post(
        "/console/sign-in",
        data={"csrf": "guess", "api_key": app.keys["buyer"]},
        follow_redirects=False,
    )
    assert forged.status_code == 400
    assert app.client.get("/console/catalog", follow_redirects=False).status_code == 303


def test_every_form_needs_the_session_token(app: App) -> None:
    token = sign_in(app, "provider")
    dataset_id = upload(app, token)
    refused = app.client.post(
        f"/console/datasets/{dataset_id}/policy", data={"policy": json.dumps(POLICY)}
    )
    assert refused.status_code == 403
    stale = app.client.post(
        f"/console/datasets/{dataset_id}/policy",
        data={"policy": json.dumps(POLICY), "csrf": token[:-2] + "xx"},
    )
    assert stale.status_code == 403
    no_header = app.client.post(
        "/console/datasets", files={"file": ("a.csv", io.BytesIO(b"a,b\n1,2\n"), "text/csv")}
    )
    assert no_header.status_code == 403
    dataset = app.client.get(
        f"/v1/datasets/{dataset_id}", headers={"Authorization": f"Bearer {app.keys['provider']}"}
    ).json()
    assert dataset["policy"] is None  # nothing was applied

    accepted = app.client.post(
        f"/console/datasets/{dataset_id}/policy", data={"policy": json.dumps(POLICY), "csrf": token}
    )
    assert accepted.status_code == 200
    assert 'id="risk-chart"' in accepted.text and 'id="utility-chart"' in accepted.text

    signed_out = app.client.post("/console/sign-out", data={"csrf": token}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert app.client.get("/console/datasets", follow_redirects=False).status_code == 303


def test_the_api_decides_what_each_role_sees(app: App) -> None:
    dataset_id = upload(app, sign_in(app, "provider"))
    app.client.cookies.clear()
    sign_in(app, "buyer")
    page = app.client.get(f"/console/datasets/{dataset_id}")
    assert page.status_code in (403, 404)
    assert "citizens.csv" not in page.text
    app.client.cookies.clear()
    sign_in(app, "auditor")
    assert app.client.get("/console/datasets").status_code in (200, 403)
    assert app.client.get("/console/revenue").status_code == 403


def test_pages_name_no_other_origin_and_forbid_one(app: App) -> None:
    token = sign_in(app, "provider")
    dataset_id = upload(app, token)
    pages = [
        app.client.get("/console/datasets"),
        app.client.post(
            f"/console/datasets/{dataset_id}/policy",
            data={"policy": json.dumps(POLICY), "csrf": token},
        ),
        app.client.get(f"/console/transparency/{dataset_id}"),
    ]
    for page in pages:
        assert page.status_code == 200, page.text[:300]
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert page.headers["cache-control"] == "no-store"
        assert not re.findall(r'(?:src|href|action)="(?:https?:)?//', page.text)
    asset = app.client.get("/console/vendor/plotly.min.js")
    assert asset.status_code == 200 and b"plotly" in asset.content[:2000].lower()


def test_an_operator_decides_a_budget_request(app: App) -> None:
    provider = {"Authorization": f"Bearer {app.keys['provider']}"}
    dataset_id = upload(app, sign_in(app, "provider"))
    app.client.cookies.clear()
    assert app.client.put(f"/v1/datasets/{dataset_id}/policy", json=POLICY, headers=provider)
    offer = offer_body(dataset_id)
    assert app.client.post("/v1/offers", json=offer, headers=provider).status_code == 201
    asked = app.client.post(
        f"/v1/datasets/{dataset_id}/budget-requests",
        json={"epsilon_cap": 20.0, "reason": "a second year of studies"},
        headers=provider,
    )
    assert asked.status_code == 201, asked.text
    token = sign_in(app, "operator")
    page = app.client.get("/console/budget-requests")
    assert "a second year of studies" in page.text
    decided = app.client.post(
        f"/console/budget-requests/{asked.json()['id']}/decision",
        data={"csrf": token, "action": "approve", "reason": "fits the provider's mandate"},
    )
    assert decided.status_code == 200
    dataset = app.client.get(f"/v1/datasets/{dataset_id}", headers=provider).json()
    assert dataset["epsilon_cap"] == 20.0
