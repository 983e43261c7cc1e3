"""A real ``datalease serve`` process: the whole lease story over HTTP, a SIGTERM half-way,
a restart on the same data dir, and an offline audit with ``datalease verify-ledger``."""

from __future__ import annotations

import io
import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from contracts import SignedTreeHead, verify_consistency, verify_export, verify_inclusion
from exchange.jobs.follow import request_following_jobs
from tests.exchange.conftest import csv_bytes
from tests.exchange.flows import POLICY, offer_body
from tests.exchange.servers import ServeProcess

pytestmark = pytest.mark.slow

ACCOUNTS = [
    ("provider", "provider", "深圳市交通运输局"),
    ("buyer", "buyer", "鹏城出行科技有限公司"),
    ("auditor", "auditor", "深圳市政务服务数据管理局"),
    ("operator", "operator", "深圳市数据交易所"),
]


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.request.url, response.text[:500])
    return response.json()


def verify_ledger(server: ServeProcess, tmp: Path, export: str, name: str) -> tuple[int, dict]:
    """Run ``datalease verify-ledger`` on an export with the PEM public key, as an auditor."""
    pem = httpx.get(f"{server.url}/v1/ledger/public-key").json()["public_key_pem"]
    (tmp / "ledger.pem").write_text(pem)
    (tmp / name).write_text(export)
    done = server.cli(
        "verify-ledger", str(tmp / name), "--public-key", str(tmp / "ledger.pem"), check=False
    )
    return done.returncode, json.loads(done.stdout)


def assert_graceful(server: ServeProcess) -> None:
    """SIGTERM lets requests finish and the app shut down; uvicorn then re-raises the signal."""
    code = server.stop()
    assert code in (0, -signal.SIGTERM), server.log_tail()
    assert server.log_tail().rstrip().endswith(f"Finished server process [{server.proc.pid}]")


def entry_lines(export: str) -> list[str]:
    return [line for line in export.splitlines() if line.startswith('{"entry"')]


def test_a_real_server_runs_the_story_and_keeps_it_across_a_restart(tmp_path, citizens_small):
    data_dir = tmp_path / "data"
    frame = citizens_small.head(400)
    first = ServeProcess(data_dir, tmp_path / "server.log")
    with first:
        with ThreadPoolExecutor(len(ACCOUNTS)) as pool:
            made = pool.map(lambda a: (a[0], first.create_account(*a)), ACCOUNTS)
            keys = {who: account["api_key"] for who, account in made}
        provider, buyer, auditor = (first.client(keys[w]) for w in ("provider", "buyer", "auditor"))
        assert ok(buyer.get("/v1/me"))["role"] == "buyer"

        # -- provider: upload, policy, offer -----------------------------------------------
        dataset = ok(
            provider.post(
                "/v1/datasets",
                files={"file": ("citizens.csv", csv_bytes(frame), "text/csv")},
                data={"name": "citizens", "grade": "general", "domain": "population"},
            ),
            201,
        )
        assert dataset["rows"] == len(frame)
        ok(provider.put(f"/v1/datasets/{dataset['id']}/policy", json=POLICY))
        offer = ok(provider.post("/v1/offers", json=offer_body(dataset["id"])), 201)

        # -- buyer: catalog, quote, lease, payment (retried once) --------------------------
        sample = ok(buyer.get(f"/v1/catalog/{offer['id']}"))["sample"]
        assert sample["synthetic"] and sample["rows"]
        request = {"offer_id": offer["id"], "purpose": "traffic-planning", "days": 30}
        request["epsilon"] = 1.0
        quote = ok(buyer.post("/v1/quotes", json=request), 201)
        lease = ok(buyer.post("/v1/leases", json=request), 201)
        assert lease["status"] == "approved" and lease["price_minor"] == quote["total_minor"]
        key = {"Idempotency-Key": "first-payment"}
        paid = ok(buyer.post(f"/v1/leases/{lease['id']}/pay", headers=key))
        replay = buyer.post(f"/v1/leases/{lease['id']}/pay", headers=key)
        assert replay.status_code == 200 and replay.headers["idempotent-replay"] == "true"
        assert paid["status"] == "active"

        # -- auditor: what the world looks like before the restart -------------------------
        head_before = ok(auditor.get("/v1/audit/head"))
        export_before = auditor.get("/v1/audit/export").text
        code, report = verify_ledger(first, tmp_path, export_before, "before.jsonl")
        assert code == 0 and report["ok"], report
        assert report["tree_size"] == head_before["size"]
        revenue_before = ok(auditor.get("/v1/audit/revenue"))
        assert revenue_before["balanced"]
        leases_before = ok(buyer.get("/v1/leases"))
        budgets_before = ok(auditor.get("/v1/audit/budgets"))
        statement_before = ok(provider.get("/v1/revenue"))
        for client in (provider, buyer, auditor):
            client.close()

        assert_graceful(first)

    # -- the same data dir, a new process ----------------------------------------------------
    second = ServeProcess(data_dir, tmp_path / "server.log")
    with second:
        provider, buyer, auditor = (
            second.client(keys[w]) for w in ("provider", "buyer", "auditor")
        )
        assert ok(buyer.get("/v1/leases")) == leases_before
        assert ok(auditor.get("/v1/audit/revenue")) == revenue_before
        assert ok(auditor.get("/v1/audit/budgets")) == budgets_before
        assert ok(provider.get("/v1/revenue")) == statement_before
        head_after = ok(auditor.get("/v1/audit/head"))
        assert head_after["public_key_pem"] == head_before["public_key_pem"]
        assert (head_after["size"], head_after["root"]) == (
            head_before["size"],
            head_before["root"],
        )
        assert SignedTreeHead.from_json(head_before).verify(head_after["public_key_pem"])

        # -- the rest of the story on the restarted server ---------------------------------
        csv = request_following_jobs(buyer, "GET", f"/v1/leases/{lease['id']}/extract")
        assert csv.status_code == 200, csv.text[:300]
        extract = pd.read_csv(io.BytesIO(csv.content), dtype=str)
        assert len(extract) and "email" not in extract.columns
        assert not set(extract["resident_id"]) & set(frame["resident_id"])
        parquet = buyer.get(f"/v1/leases/{lease['id']}/extract", params={"format": "parquet"})
        assert parquet.status_code == 200  # made once: the second format streams the same
        assert pq.read_table(io.BytesIO(parquet.content)).num_rows == len(extract)
        answer = ok(
            buyer.post(f"/v1/leases/{lease['id']}/queries", json={"op": "count", "epsilon": 0.5})
        )
        assert answer["lease_epsilon_remaining"] == pytest.approx(0.5)
        receipt = ok(buyer.get(f"/v1/leases/{lease['id']}/receipts"))["receipts"][0]
        assert receipt["entry"]["body"]["extract_sha256"] == csv.headers["x-extract-sha256"]
        proof = receipt["inclusion"]
        path = [bytes.fromhex(h) for h in proof["proof"]]
        leaf, root = bytes.fromhex(proof["leaf_hash"]), bytes.fromhex(proof["head"]["root"])
        assert verify_inclusion(leaf, proof["index"], proof["size"], path, root)
        second_lease = ok(buyer.post("/v1/leases", json={**request, "epsilon": 0.5}), 201)
        ok(buyer.post(f"/v1/leases/{second_lease['id']}/pay"))

        # -- the auditor: the log grew append-only across the restart ----------------------
        head_final = ok(auditor.get("/v1/audit/head"))
        assert head_final["size"] > head_before["size"]
        consistency = ok(
            auditor.get(
                "/v1/audit/proofs/consistency",
                params={"old_size": head_before["size"], "new_size": head_final["size"]},
            )
        )
        assert consistency["old_root"] == head_before["root"]
        assert verify_consistency(
            head_before["size"],
            head_final["size"],
            bytes.fromhex(head_before["root"]),
            bytes.fromhex(head_final["root"]),
            [bytes.fromhex(h) for h in consistency["proof"]],
        )
        assert SignedTreeHead.from_json(head_final).verify(head_before["public_key_pem"])

        export_after = auditor.get("/v1/audit/export").text
        assert entry_lines(export_after)[: head_before["size"]] == entry_lines(export_before)
        code, report = verify_ledger(second, tmp_path, export_after, "after.jsonl")
        assert code == 0 and report["ok"], report
        assert report["tree_size"] >= head_final["size"]
        revenue = ok(auditor.get("/v1/audit/revenue"))
        assert revenue["balanced"]
        spent = -revenue["balances_minor"][f"buyer:{leases_before[0]['buyer_id']}"]
        assert spent == lease["price_minor"] + second_lease["price_minor"]
        assert report["balances"] == revenue["balances_minor"]

        # a changed entry in the export fails the offline check
        lines = export_after.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if '"lease_paid"' in line)
        lines[at] = lines[at].replace('"lease_paid"', '"lease_free"')
        tampered = verify_export(lines, head_final["public_key_pem"])
        assert not tampered.ok and tampered.first_failing_index == at - 1
        for client in (provider, buyer, auditor):
            client.close()
        assert_graceful(second)
