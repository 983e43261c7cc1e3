"""The workflow commands against a real server, as a script would run them (--json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from exchange.cli import app
from tests.client.conftest import PURPOSE, Running, published

runner = CliRunner()


def datalease(running: Running, role: str | None, *args: str, code: int = 0) -> Any:
    """Run ``datalease ARGS`` as ``role`` (from DATALEASE_URL / DATALEASE_KEY); its JSON."""
    env = {"DATALEASE_URL": running.url, "DATALEASE_KEY": running.keys[role] if role else ""}
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if "--json" in args and result.stdout else result


def test_provider_commands(running: Running, citizens_csv: Path):
    dataset = datalease(
        running, "provider", "dataset", "upload", str(citizens_csv), "--name", "citizens", "--json"
    )
    assert dataset["rows"] == 400 and dataset["policy"] is None
    suggested = datalease(
        running, "provider", "dataset", "policy", dataset["id"], "--k", "3", "--show", "--json"
    )
    assert suggested["k"] == 3 and suggested["columns"]
    set_ = datalease(running, "provider", "dataset", "policy", dataset["id"], "--k", "3", "--json")
    assert set_["policy_hash"] and set_["policy"]["k"] == 3
    preview = datalease(
        running, "provider", "dataset", "preview", dataset["id"], "--rows", "2", "--json"
    )
    assert len(preview["rows"]) == 2
    sizes = preview["report"]["risk_after"]["class_sizes"]
    assert sum(b["rows"] for b in sizes) == preview["report"]["risk_after"]["rows"]
    text = datalease(running, "provider", "dataset", "preview", dataset["id"], "--rows", "2")
    assert "rows by equivalence-class size" in text.stdout
    listed = datalease(running, "provider", "dataset", "list", "--json")
    assert dataset["id"] in {d["id"] for d in listed}

    offer = datalease(
        running,
        "provider",
        "offer",
        "publish",
        dataset["id"],
        "--title",
        "citizens",
        "--purpose",
        PURPOSE,
        "--price",
        "2000",
        "--share",
        "provider=9000",
        "--share",
        "platform=1000",
        "--epsilon-cap",
        "5",
        "--json",
    )
    assert offer["shares_bp"] == {"provider": 9000, "platform": 1000}
    mine = datalease(running, "provider", "offer", "list", "--json")
    assert offer["id"] in {o["id"] for o in mine}
    assert {o["review_status"] for o in mine} == {"listed"}
    # text output for people: a table with the offer in it
    text = datalease(running, "provider", "offer", "list")
    assert offer["id"] in text.stdout


def test_buyer_and_auditor_commands(running: Running, citizens_csv: Path, tmp_path: Path):
    _, offer_id = published(running, citizens_csv)
    entry = datalease(running, "buyer", "catalog", offer_id, "--json")
    assert entry["sample"]["synthetic"] is True
    quoted = datalease(
        running, "buyer", "quote", offer_id, "--purpose", PURPOSE, "--days", "7", "--json"
    )
    lease = datalease(
        running,
        "buyer",
        "lease",
        "request",
        offer_id,
        "--purpose",
        PURPOSE,
        "--days",
        "7",
        "--epsilon",
        "1",
        "--json",
    )
    paid = datalease(running, "buyer", "lease", "pay", lease["id"], "--json")
    assert paid["status"] == "active" and paid["price_minor"] >= quoted["total_minor"]
    out = tmp_path / "extract.parquet"
    got = datalease(
        running,
        "buyer",
        "lease",
        "extract",
        lease["id"],
        "--format",
        "parquet",
        "--out",
        str(out),
        "--json",
    )
    assert got["path"] == str(out) and got["job"]["state"] == "done"
    assert got["sha256"] == got["extract_sha256"]
    answer = datalease(
        running, "buyer", "lease", "query", lease["id"], "--op", "count", "--epsilon", "0.5", "--json"
    )
    assert answer["op"] == "count"
    leases = datalease(running, "buyer", "lease", "list", "--json")
    assert lease["id"] in {item["id"] for item in leases}

    report = datalease(running, "auditor", "audit", "verify", "--json")
    assert report["ok"] is True
    export = tmp_path / "ledger.jsonl"
    datalease(running, "auditor", "audit", "export", "--out", str(export), "--json")
    pem = tmp_path / "ledger.pem"
    pem.write_text(
        datalease(running, "auditor", "audit", "head", "--json")["public_key_pem"]
    )
    assert datalease(
        running, "auditor", "audit", "verify", str(export), "--public-key", str(pem), "--json"
    )["ok"]
    balances = datalease(running, "auditor", "audit", "balances", "--json")
    assert balances["balanced"] is True
    budgets = datalease(running, "auditor", "audit", "budgets", "--json")
    assert all(b["within_cap"] for b in budgets)
    job = datalease(running, "buyer", "job", "watch", got["job"]["id"], "--json")
    assert job["state"] == "done"


def test_errors_exit_1_with_the_api_error_body(running: Running):
    body = datalease(running, "buyer", "lease", "show", "lse_nope", "--json", code=1)
    assert body == {"error": {"status": 404, "code": "not_found", "message": body["error"]["message"]}}
    result = datalease(running, "buyer", "dataset", "upload", __file__, "--name", "x", code=1)
    assert "HTTP 403" in result.stderr
    missing = datalease(running, None, "dataset", "list", code=2)
    assert "DATALEASE_KEY" in missing.stderr
