"""The web console in a real headless Chromium against a real ``datalease serve``.

Each role signs in and does its main task end to end through the pages, its charts are
drawn, and no page asks anything of another origin. A screenshot of every page visited
goes to ``console-screenshots/`` at the repository's root for review.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.generate_city_data import generate_citizens
from exchange.context import Exchange
from exchange.services.accounts import create_account
from exchange.settings import Settings
from tests.exchange.flows import POLICY, offer_body
from tests.exchange.servers import ServeProcess

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "console-screenshots"
ROLES = [
    ("provider", "provider", "深圳市交通运输局"),
    ("buyer", "buyer", "鹏城出行科技有限公司"),
    ("auditor", "auditor", "深圳市政务服务数据管理局"),
    ("operator", "operator", "深圳市数据交易所"),
]
TIMEOUT_MS = 60_000


class Console:
    """The running exchange, its accounts' keys, and a dataset already leased and paid."""

    def __init__(self, server: ServeProcess, keys: dict[str, str], csv_path: Path) -> None:
        self.server = server
        self.url = server.url
        self.keys = keys
        self.csv_path = csv_path
        self.market: dict[str, Any] = {}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("console")
    data_dir = tmp / "data"
    exchange = Exchange.open(Settings(data_dir=data_dir))
    keys = {}
    with exchange.sessions() as session:
        for name, role, organisation in ROLES:
            keys[name] = create_account(
                session, name=name, role=role, organisation=organisation
            ).api_key
        session.commit()
    exchange.close()
    csv_path = tmp / "citizens.csv"
    generate_citizens(300, seed=11).to_csv(csv_path, index=False)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with ServeProcess(data_dir, tmp / "server.log") as server:
        found = Console(server, keys, csv_path)
        found.market = _market(server, keys, csv_path)
        yield found


def _market(server: ServeProcess, keys: dict[str, str], csv_path: Path) -> dict[str, Any]:
    """An offer with one paid lease, made through the API: the buyer's and auditor's pages
    then have something to show whatever the provider's browser test does."""

    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text[:500]
        return response.json()

    with server.client(keys["provider"]) as provider, server.client(keys["buyer"]) as buyer:
        dataset = ok(
            provider.post(
                "/v1/datasets",
                files={"file": ("citizens.csv", csv_path.read_bytes(), "text/csv")},
                data={"name": "citizens (API)", "grade": "general", "domain": "population"},
            ),
            201,
        )
        ok(provider.put(f"/v1/datasets/{dataset['id']}/policy", json=POLICY))
        offer = ok(provider.post("/v1/offers", json=offer_body(dataset["id"])), 201)
        lease = ok(
            buyer.post(
                "/v1/leases",
                json={
                    "offer_id": offer["id"],
                    "purpose": "academic-research",
                    "days": 30,
                    "epsilon": 1.0,
                },
            ),
            201,
        )
        ok(buyer.post(f"/v1/leases/{lease['id']}/pay", headers={"Idempotency-Key": "m1"}))
    return {"dataset": dataset["id"], "offer": offer["id"], "lease": lease["id"]}


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


class Visit:
    """One browser context: the pages of one person, every request it makes recorded."""

    def __init__(self, browser: Any, console: Console, who: str) -> None:
        self.console = console
        self.who = who
        self.context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )

    def go(self, path: str) -> Any:
        self.page.goto(self.console.url + path)
        return self.page

    def sign_in(self) -> None:
        page = self.go("/console")
        page.fill("#api_key", self.console.keys[self.who])
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/.+"))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{self.who}-{name}.png"), full_page=True)

    def charts_drawn(self, *ids: str) -> None:
        """Each chart has plotly's SVG with at least one drawn trace, and its text table."""
        for chart_id in ids:
            self.page.wait_for_selector(f"#{chart_id}[data-rendered=true]")
            drawn = self.page.eval_on_selector(
                f"#{chart_id}",
                "el => el.querySelectorAll('svg.main-svg').length > 0 && "
                "el.querySelectorAll('g.trace').length > 0",
            )
            assert drawn, f"chart {chart_id} has no drawn trace"
            assert self.page.locator(f"#{chart_id}-figure details.alt table").count() == 1

    def close(self) -> None:
        origin = self.console.url + "/"
        outside = [url for url in self.requests if not url.startswith(origin)]
        self.context.close()
        assert self.requests, "no request was recorded"
        assert not outside, f"requests outside the server: {outside}"
        assert not [e for e in self.console_errors if "Content Security Policy" in e], (
            self.console_errors
        )


@pytest.fixture
def visit(browser: Any, console: Console) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_as(who: str) -> Visit:
        opened.append(Visit(browser, console, who))
        return opened[-1]

    yield open_as
    for v in opened:
        v.close()


def test_provider_uploads_sets_a_policy_and_publishes(visit: Any, console: Console) -> None:
    v = visit("provider")
    v.sign_in()
    page = v.page
    assert page.url.endswith("/console/datasets")
    v.shot("datasets")

    page.set_input_files("#file", str(console.csv_path))
    page.fill("#name", "citizens (console)")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/datasets/ds_\w+$"))
    dataset_id = page.url.rsplit("/", 1)[1]
    v.shot("dataset-profile")

    # A policy the gate must refuse: k larger than the table.
    page.fill("#policy", json.dumps({**POLICY, "k": 100_000}, indent=2))
    page.click("text=Check and set the policy")
    page.wait_for_selector("#verdict.refused")
    assert "100000" in page.inner_text("#verdict")
    v.shot("policy-refused")

    page.fill("#policy", json.dumps(POLICY, indent=2))
    page.click("text=Check and set the policy")
    page.wait_for_selector("#verdict.ok")
    v.charts_drawn("risk-chart", "utility-chart")
    assert "unique" in page.inner_text("#risk-chart-summary")
    assert "classes," in (page.text_content("#risk-chart-figure details.alt table") or "")
    v.shot("policy-accepted")

    page.fill("#title", "citizens from the console")
    page.fill("#k", "3")
    page.click("#offer-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/offers\?published=off_\w+$"))
    assert "citizens from the console" in page.inner_text("#offers")
    v.shot("offers")

    v.go("/console/approvals")
    assert console.market["lease"] in page.inner_text("#leases")
    v.shot("approvals")
    v.go("/console/revenue")
    v.charts_drawn("revenue-chart")
    v.shot("revenue")

    with httpx.Client(base_url=console.url) as anyone:
        listed = anyone.get(
            "/v1/catalog", headers={"Authorization": f"Bearer {console.keys['buyer']}"}
        ).json()
    assert any(o["dataset_id"] == dataset_id for o in listed)

    page.click("header form.who button")
    page.wait_for_selector("#api_key")
    assert v.go("/console/datasets").url.endswith("/console")  # signed out


def test_buyer_quotes_leases_pays_downloads_and_queries(visit: Any, console: Console) -> None:
    v = visit("buyer")
    v.sign_in()
    page = v.page
    assert page.url.endswith("/console/catalog")
    v.shot("catalog")

    v.go(f"/console/catalog/{console.market['offer']}")
    assert page.locator("#sample table tbody tr").count() > 0
    v.shot("offer")
    page.fill("#days", "20")
    page.click("#quote-form button[type=submit]")
    page.wait_for_selector("#quote")
    assert "CNY" in page.inner_text("#quote")
    v.shot("quote")

    page.click("#lease-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/leases/lse_\w+$"))
    assert page.inner_text("#lease-status") == "approved"
    page.click("#pay-form button[type=submit]")
    page.wait_for_selector("#lease-status:text('active')")
    v.charts_drawn("budget-gauge")

    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click("button.download:text('CSV')")
    download = info.value
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert "citizen_id" in lines[0] and len(lines) > 100
    v.shot("lease-downloaded")

    page.select_option("#op", "count")
    page.fill("#q-epsilon", "0.2")
    page.click("#query-form button[type=submit]")
    page.wait_for_selector("#query-result")
    v.charts_drawn("budget-gauge")
    assert "0.2" in (page.text_content("#budget-gauge-figure details.alt table") or "")
    v.shot("lease-query")

    v.go("/console/leases")
    assert page.locator("#leases tbody tr").count() >= 2
    v.shot("leases")


def test_auditor_verifies_the_ledger_and_reads_the_charts(visit: Any, console: Console) -> None:
    v = visit("auditor")
    v.sign_in()
    page = v.page
    assert page.url.endswith("/console/audit")
    v.charts_drawn("timeline-chart")
    v.shot("ledger")
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#verification")
    assert page.locator("#verification.ok").count() == 1, page.inner_text("#verification")
    assert "matches the signed head" in page.inner_text("#verification")
    v.shot("verified")

    v.go("/console/audit/balances")
    v.charts_drawn("balances-chart", "epsilon-chart")
    assert "balanced" in page.inner_text("#balances-chart-summary")
    v.shot("balances")
    v.go("/console/audit/events")
    assert (
        "extract_download" in page.inner_text("#access-events")
        or page.locator("#access-events tbody tr").count() > 0
    )
    v.shot("access-events")


def test_transparency_page_is_public(visit: Any, console: Console) -> None:
    v = visit("public")
    page = v.go(f"/console/transparency/{console.market['dataset']}")
    v.charts_drawn("transparency-chart")
    assert "鹏城出行科技有限公司" in page.inner_text("#transparency-leases")
    v.shot("transparency")
