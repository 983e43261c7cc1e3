"""The demo's story: provider, buyer and auditor through the client, printed as they go."""

from __future__ import annotations

import io
import uuid

import pandas as pd

from contracts import verify_export
from examples.demo.release import SHOWN, catalog_sample, release_gate, trace_leak, two_leases
from examples.demo.school_bus import school_bus
from examples.demo.show import console, fen, say, show_frame
from examples.generate_city_data import generate
from examples.serve_process import ServeProcess
from exchange.client import ApiError, Client, Invalid
from exchange.client.models import Dataset, Lease, Offer


def walk(server: ServeProcess, rows: int) -> int:
    operator_key = server.create_account("operator", "ops", "深圳数据交易所")["api_key"]
    keys = {}
    with Client(server.url, operator_key) as operator:
        for who, role, org in [
            ("provider", "provider", "深圳市政务服务数据管理局"),
            ("buyer", "buyer", "鹏城出行科技有限公司"),
            ("auditor", "auditor", "深圳市审计局"),
        ]:
            keys[who] = operator.create_account(who, role, org).api_key
    say(
        "accounts",
        "operator created a provider (city data bureau), a buyer (mobility "
        "company) and an auditor (city audit office); API keys are shown once, stored hashed",
    )
    with (
        Client(server.url, keys["provider"]) as provider,
        Client(server.url, keys["buyer"]) as buyer,
        Client(server.url, keys["auditor"]) as auditor,
    ):
        dataset = _provider_uploads(provider, rows)
        dataset = release_gate(provider, dataset)
        offer = _provider_publishes(provider, buyer, dataset)
        lease, extract = _buyer_leases(buyer, offer)
        _, second_extract, second = two_leases(buyer, dataset, offer, lease, extract)
        trace_leak(auditor, dataset, second_extract, second)
        _important_grade(provider, buyer, rows)
        with Client(server.url, operator_key) as operator:
            school_bus(server.url, operator, rows)
        return _auditor_checks(auditor, dataset)


def _provider_uploads(provider: Client, rows: int) -> Dataset:
    say("1. provider uploads citizens.csv")
    with console.status(f"generating {rows} citizens (Faker zh_CN pools, seeded)…"):
        citizens = generate("citizens", rows, seed=2026)
        data = citizens.to_csv(index=False).encode("gbk")
    dataset = provider.upload_dataset(
        data,
        filename="citizens.csv",
        name="深圳市居民样本",
        domain="population",
        grade="general",
        description="Resident sample, GBK CSV",
    )
    console.print(
        f"stored encrypted (AES-GCM, per-dataset key): {dataset.id}, "
        f"{dataset.rows} rows, encoding detected: {dataset.encoding}"
    )
    suggested = dataset.suggested_policy["columns"]
    detected = pd.DataFrame(
        [
            {
                "column": c["name"],
                "kind": c.get("kind"),
                "class": c.get("classification"),
                "suggested rule": suggested.get(c["name"], {}).get("rule", "drop"),
            }
            for c in dataset.profile["columns"]
        ]
    )
    show_frame(detected, "profile: detected kinds, classes and the suggested policy", rows=20)
    return dataset


def _provider_publishes(provider: Client, buyer: Client, dataset: Dataset) -> Offer:
    say("3. provider publishes an offer; the catalog shows a synthetic sample")
    offer = provider.publish_offer(
        dataset.id,
        title="深圳居民画像（脱敏）",
        terms={
            "allowed_purposes": [
                "traffic-planning",
                "public-service-operation",
                "academic-research",
            ],
            "max_period_days": 180,
            "max_downloads": 3,
            "territory": "CN-GD",
        },
        pricing={"base_minor_per_1000_rows": 30_000, "minimum_minor": 50_000},
        shares_bp={
            "provider": 6500,
            "party:futian-data-center": 1500,
            "platform": 1500,
            "subject_pool": 500,
        },
        epsilon_cap=5.0,
        k=5,
    )
    console.print(
        f"offer {offer.id}: shares {offer.shares_bp} (basis points), privacy budget cap ε=5"
    )
    catalog_sample(buyer, offer)
    return offer


def _buyer_leases(buyer: Client, offer: Offer) -> tuple[Lease, pd.DataFrame]:
    say("4. buyer browses, quotes, leases, pays, downloads")
    catalog = buyer.catalog(domain="population")
    console.print(
        f"catalog: {len(catalog)} offer(s); indicative price "
        f"{fen(catalog[0].indicative_price_minor)}"
    )
    purpose, why = "traffic-planning", "commuter flows for bus network redesign"
    quote = buyer.quote(offer.id, purpose, purpose_text=why, days=30, epsilon=1.0)
    table = [
        {"factor": f.name, "x": f"{f.numerator}/{f.denominator}", "why": f.explanation}
        for f in quote.factors
    ]
    show_frame(
        pd.DataFrame(table),
        f"quote {quote.id[:12]}…  total {fen(quote.total_minor)}",
        rows=20,
    )
    lease = buyer.request_lease(offer.id, purpose, purpose_text=why, days=30, epsilon=1.0)
    console.print(f"lease {lease.id}: {lease.status} ({lease.decision_reason})")
    key = str(uuid.uuid4())
    paid = buyer.pay(lease.id, idempotency_key=key)
    again = buyer.pay(lease.id, idempotency_key=key)
    console.print(
        f"paid {fen(paid.price_minor)}; retried with the same Idempotency-Key: "
        f"status {again.status}, charged once"
    )
    received = io.BytesIO()
    download = buyer.download_extract(lease.id, received, format="csv")
    extract = pd.read_csv(
        io.BytesIO(received.getvalue()), dtype=str, keep_default_na=False
    )
    show_frame(
        extract[[c for c in SHOWN if c in extract]],
        f"extract: {len(extract)} rows, sha256 {(download.extract_sha256 or '')[:16]}…",
    )
    receipt = buyer.receipts(lease.id).receipts[0]
    console.print(
        f"desensitization receipt at log index {receipt.index}: policy "
        f"{receipt.entry['body']['policy_hash'][:12]}…, inclusion proof of "
        f"{len(receipt.inclusion['proof'])} hashes"
    )
    answer = buyer.query(
        lease.id, "mean", column="monthly_income", bounds=[0, 100000], epsilon=0.5
    )
    console.print(
        f"DP mean monthly income (ε=0.5): {answer.value}; lease ε left "
        f"{answer.lease_epsilon_remaining}"
    )
    return lease, extract


def _important_grade(provider: Client, buyer: Client, rows: int) -> None:
    say("7. important-grade data needs the provider's approval")
    visits = generate("clinic_visits", rows, seed=2026)
    dataset = provider.upload_dataset(
        visits.to_parquet(index=False),
        filename="clinic_visits.parquet",
        name="门诊就诊记录",
        domain="health",
        grade="important",
    )
    policy = dataset.suggested_policy
    try:
        provider.set_policy(dataset.id, policy)
    except Invalid as refused:
        if not policy.get("l_diversity"):
            raise
        # The exchange refused the suggestion: release without the sensitive column.
        console.print(f"suggested policy refused: {refused.message}")
        column = policy.pop("l_diversity")["column"]
        policy["columns"][column] = {"class": "drop"}
        console.print(f"set again with {column} dropped")
        provider.set_policy(dataset.id, policy)
    offer = provider.publish_offer(
        dataset.id,
        title="门诊就诊统计（脱敏）",
        terms={
            "allowed_purposes": ["academic-research", "public-service-operation"],
            "max_period_days": 90,
        },
        pricing={"base_minor_per_1000_rows": 60_000},
        shares_bp={"provider": 8000, "platform": 1500, "subject_pool": 500},
        epsilon_cap=3.0,
    )
    lease = buyer.request_lease(offer.id, "academic-research", days=60)
    console.print(f"lease {lease.id}: {lease.status} — waiting for the provider")
    approved = provider.approve_lease(lease.id, "ethics approval on file")
    console.print(f"provider approved: {approved.status}")
    buyer.pay(lease.id)
    revoked = provider.revoke_lease(lease.id, "demo: consent withdrawn")
    console.print(f"provider revoked it: refund {fen(revoked.refund_minor)} pro rata")
    try:
        buyer.download_extract(lease.id, io.BytesIO())
    except ApiError as gone:
        console.print(f"download after revocation → HTTP {gone.status}: {gone.message}")
    else:
        raise SystemExit("a revoked lease was downloaded")


def _auditor_checks(auditor: Client, dataset: Dataset) -> int:
    say("8. auditor verifies")
    head = auditor.audit_head()
    console.print(f"signed tree head: size {head.size}, root {head.root[:16]}…")
    exported = io.BytesIO()
    auditor.audit_export(exported)
    public = auditor.public_key().public_key_pem
    report = verify_export(exported.getvalue().decode().splitlines(), public)
    console.print(
        f"offline verification of {report.entries_checked} entries: "
        f"{'OK' if report.ok else 'FAILED'}"
    )
    entries = auditor.audit_entries(limit=1000)
    releases = [e.entry["body"] for e in entries if e.entry["type"] == "release"]
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
    revenue = auditor.balances()
    show_frame(
        pd.DataFrame(
            [
                {"account": a, "balance": fen(b) if b >= 0 else "-" + fen(-b)}
                for a, b in revenue.balances_minor.items()
            ]
        ),
        f"balances (sum {revenue.sum_minor}: ledger balanced)",
        rows=20,
    )
    for b in auditor.audit_budgets():
        console.print(f"budget {b.name}: ε spent {b.epsilon_spent} of {b.epsilon_cap}")
    public_view = auditor.transparency(dataset.id)
    say(
        "transparency report (public)",
        "\n".join(
            f"{item['organisation']}: {item['purpose']} {item['starts_at'][:10]}→"
            f"{item['ends_at'][:10]} ({item['status']}, ε {item['epsilon']})"
            for item in public_view.leases
        ),
    )
    return 0 if report.ok else 1
