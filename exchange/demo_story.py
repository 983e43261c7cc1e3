"""The demo's story: provider, buyer and auditor over HTTP, printed as they go."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pandas as pd

from contracts import verify_export
from examples.generate_city_data import generate
from exchange.demo import Actor, console, fen, say, show_frame
from exchange.demo_release import SHOWN, catalog_sample, release_gate, trace_leak, two_leases
from exchange.process import ServeProcess


def walk(server: ServeProcess, rows: int) -> int:
    operator_key = server.create_account("operator", "ops", "深圳数据交易所")["api_key"]
    operator = Actor(server.url, operator_key, "operator")
    keys = {}
    for who, role, org in [
        ("provider", "provider", "深圳市政务服务数据管理局"),
        ("buyer", "buyer", "鹏城出行科技有限公司"),
        ("auditor", "auditor", "深圳市审计局"),
    ]:
        keys[who] = operator(
            "POST", "/v1/accounts", json={"name": who, "role": role, "organisation": org}
        )["api_key"]
    provider = Actor(server.url, keys["provider"], "provider")
    buyer = Actor(server.url, keys["buyer"], "buyer")
    auditor = Actor(server.url, keys["auditor"], "auditor")
    say(
        "accounts",
        "operator created a provider (city data bureau), a buyer (mobility "
        "company) and an auditor (city audit office); API keys are shown once, stored hashed",
    )

    dataset = _provider_uploads(provider, rows)
    dataset = release_gate(provider, dataset)
    offer = _provider_publishes(provider, buyer, dataset)
    lease, extract = _buyer_leases(buyer, offer)
    _, second_extract, second = two_leases(buyer, dataset, offer, lease, extract)
    trace_leak(auditor, dataset, second_extract, second)
    _important_grade(provider, buyer, rows)
    _auditor_checks(auditor, dataset, lease)
    return 0


def _provider_uploads(provider: Actor, rows: int) -> dict[str, Any]:
    say("1. provider uploads citizens.csv")
    with console.status(f"generating {rows} citizens (Faker zh_CN pools, seeded)…"):
        citizens = generate("citizens", rows, seed=2026)
        data = citizens.to_csv(index=False).encode("gbk")
    dataset = provider(
        "POST",
        "/v1/datasets",
        files={"file": ("citizens.csv", io.BytesIO(data), "text/csv")},
        data={
            "name": "深圳市居民样本",
            "domain": "population",
            "grade": "general",
            "description": "Resident sample, GBK CSV",
        },
    )
    console.print(
        f"stored encrypted (AES-GCM, per-dataset key): {dataset['id']}, "
        f"{dataset['rows']} rows, encoding detected: {dataset['encoding']}"
    )
    suggested = dataset["profile"]["suggested_policy"]["columns"]
    detected = pd.DataFrame(
        [
            {
                "column": c["name"],
                "kind": c.get("kind"),
                "class": c.get("classification"),
                "suggested rule": suggested.get(c["name"], {}).get("rule", "drop"),
            }
            for c in dataset["profile"]["columns"]
        ]
    )
    show_frame(detected, "profile: detected kinds, classes and the suggested policy", rows=20)
    return dataset


def _provider_publishes(provider: Actor, buyer: Actor, dataset: dict[str, Any]) -> dict[str, Any]:
    say("3. provider publishes an offer; the catalog shows a synthetic sample")
    offer = provider(
        "POST",
        "/v1/offers",
        json={
            "dataset_id": dataset["id"],
            "title": "深圳居民画像（脱敏）",
            "terms": {
                "allowed_purposes": [
                    "traffic-planning",
                    "public-service-operation",
                    "academic-research",
                ],
                "max_period_days": 180,
                "max_downloads": 3,
                "territory": "CN-GD",
            },
            "pricing": {"base_minor_per_1000_rows": 30_000, "minimum_minor": 50_000},
            "shares_bp": {
                "provider": 6500,
                "party:futian-data-center": 1500,
                "platform": 1500,
                "subject_pool": 500,
            },
            "epsilon_cap": 5.0,
            "k": 5,
        },
    )
    console.print(
        f"offer {offer['id']}: shares {offer['shares_bp']} (basis points), privacy budget cap ε=5"
    )
    catalog_sample(buyer, offer)
    return offer


def _buyer_leases(buyer: Actor, offer: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    say("4. buyer browses, quotes, leases, pays, downloads")
    catalog = buyer("GET", "/v1/catalog", params={"domain": "population"})
    console.print(
        f"catalog: {len(catalog)} offer(s); indicative price "
        f"{fen(catalog[0]['indicative_price_minor'])}"
    )
    request = {
        "offer_id": offer["id"],
        "purpose": "traffic-planning",
        "purpose_text": "commuter flows for bus network redesign",
        "days": 30,
        "epsilon": 1.0,
    }
    quote = buyer("POST", "/v1/quotes", json=request)
    table = [
        {
            "factor": f.get("name"),
            "x": f"{f['numerator']}/{f['denominator']}",
            "why": f.get("explanation", ""),
        }
        for f in quote.get("factors", [])
    ]
    show_frame(
        pd.DataFrame(table),
        f"quote {quote.get('id', '')[:12]}…  total {fen(quote['total_minor'])}",
        rows=20,
    )
    lease = buyer("POST", "/v1/leases", json=request)
    console.print(f"lease {lease['id']}: {lease['status']} ({lease['decision_reason']})")
    key = str(uuid.uuid4())
    paid = buyer("POST", f"/v1/leases/{lease['id']}/pay", headers={"Idempotency-Key": key})
    again = buyer("POST", f"/v1/leases/{lease['id']}/pay", headers={"Idempotency-Key": key})
    console.print(
        f"paid {fen(paid['price_minor'])}; retried with the same Idempotency-Key: "
        f"status {again['status']}, charged once"
    )
    response = buyer("GET", f"/v1/leases/{lease['id']}/extract", params={"format": "csv"})
    extract = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    show_frame(
        extract[[c for c in SHOWN if c in extract]],
        f"extract: {len(extract)} rows, sha256 "
        f"{response.headers.get('x-extract-sha256', '')[:16]}…",
    )
    receipts = buyer("GET", f"/v1/leases/{lease['id']}/receipts")
    receipt = receipts["receipts"][0]
    console.print(
        f"desensitization receipt at log index {receipt['index']}: policy "
        f"{receipt['entry']['body']['policy_hash'][:12]}…, inclusion proof of "
        f"{len(receipt['inclusion']['proof'])} hashes"
    )
    answer = buyer(
        "POST",
        f"/v1/leases/{lease['id']}/queries",
        json={"op": "mean", "column": "monthly_income", "bounds": [0, 100000], "epsilon": 0.5},
    )
    console.print(
        f"DP mean monthly income (ε=0.5): {answer.get('value')}; lease ε left "
        f"{answer.get('lease_epsilon_remaining')}"
    )
    return lease, extract


def _important_grade(provider: Actor, buyer: Actor, rows: int) -> None:
    say("7. important-grade data needs the provider's approval")
    visits = generate("clinic_visits", rows, seed=2026)
    dataset = provider(
        "POST",
        "/v1/datasets",
        files={
            "file": (
                "clinic_visits.parquet",
                io.BytesIO(visits.to_parquet(index=False)),
                "application/octet-stream",
            )
        },
        data={"name": "门诊就诊记录", "domain": "health", "grade": "important"},
    )
    policy = dataset["profile"]["suggested_policy"]
    url = f"/v1/datasets/{dataset['id']}/policy"
    response = provider.client.put(url, json=policy)
    if response.status_code == 422 and policy.get("l_diversity"):
        # The exchange refused the suggestion: release without the sensitive column.
        console.print(f"suggested policy refused: {response.json()['error']['message']}")
        column = policy.pop("l_diversity")["column"]
        policy["columns"][column] = {"class": "drop"}
        console.print(f"set again with {column} dropped")
        provider("PUT", url, json=policy)
    elif response.status_code != 200:
        raise RuntimeError(f"provider PUT {url} -> {response.status_code}: {response.text}")
    offer = provider(
        "POST",
        "/v1/offers",
        json={
            "dataset_id": dataset["id"],
            "title": "门诊就诊统计（脱敏）",
            "terms": {
                "allowed_purposes": ["academic-research", "public-service-operation"],
                "max_period_days": 90,
            },
            "pricing": {"base_minor_per_1000_rows": 60_000},
            "shares_bp": {"provider": 8000, "platform": 1500, "subject_pool": 500},
            "epsilon_cap": 3.0,
        },
    )
    lease = buyer(
        "POST",
        "/v1/leases",
        json={"offer_id": offer["id"], "purpose": "academic-research", "days": 60},
    )
    console.print(f"lease {lease['id']}: {lease['status']} — waiting for the provider")
    approved = provider(
        "POST", f"/v1/leases/{lease['id']}/approve", json={"reason": "ethics approval on file"}
    )
    console.print(f"provider approved: {approved['status']}")
    buyer("POST", f"/v1/leases/{lease['id']}/pay")
    revoked = provider(
        "POST", f"/v1/leases/{lease['id']}/revoke", json={"reason": "demo: consent withdrawn"}
    )
    console.print(f"provider revoked it: refund {fen(revoked['refund_minor'])} pro rata")
    gone = buyer.client.get(f"/v1/leases/{lease['id']}/extract")
    console.print(
        f"download after revocation → HTTP {gone.status_code}: {gone.json()['error']['message']}"
    )


def _auditor_checks(auditor: Actor, dataset: dict[str, Any], lease: dict[str, Any]) -> None:
    say("8. auditor verifies")
    head = auditor("GET", "/v1/audit/head")
    console.print(f"signed tree head: size {head['size']}, root {head['root'][:16]}…")
    export = auditor("GET", "/v1/audit/export").text
    public = auditor("GET", "/v1/ledger/public-key")["public_key_pem"]
    report = verify_export(export.splitlines(), public)
    console.print(
        f"offline verification of {report.entries_checked} entries: "
        f"{'OK' if report.ok else 'FAILED'}"
    )
    entries = auditor("GET", "/v1/audit/entries", params={"limit": 1000})
    releases = [e["entry"]["body"] for e in entries if e["entry"]["type"] == "release"]
    show_frame(
        pd.DataFrame(
            [
                {
                    "release": r["release"],
                    "dataset": r["dataset"],
                    "rows": r["rows"],
                    "suppressed": r["suppressed_rows"],
                    "counted columns": ", ".join(r["counted_columns"]),
                }
                for r in releases
            ]
        ),
        f"{len(releases)} release entries in the log (one per policy version)",
        rows=20,
    )
    revenue = auditor("GET", "/v1/audit/revenue")
    show_frame(
        pd.DataFrame(
            [
                {"account": a, "balance": fen(b) if b >= 0 else "-" + fen(-b)}
                for a, b in revenue["balances_minor"].items()
            ]
        ),
        f"balances (sum {revenue['sum_minor']}: ledger balanced)",
        rows=20,
    )
    budgets = auditor("GET", "/v1/audit/budgets")
    for b in budgets:
        console.print(f"budget {b['name']}: ε spent {b['epsilon_spent']} of {b['epsilon_cap']}")
    public_view = auditor.client.get(f"/v1/transparency/{dataset['id']}").json()
    say(
        "transparency report (public)",
        "\n".join(
            f"{item['organisation']}: {item['purpose']} {item['starts_at'][:10]}→"
            f"{item['ends_at'][:10]} ({item['status']}, ε {item['epsilon']})"
            for item in public_view["leases"]
        ),
    )
    if not report.ok:
        raise SystemExit(1)
