"""The Python client against a real server: each role's main flow, errors, retries."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from exchange.client import (
    ApiError,
    Client,
    Forbidden,
    Invalid,
    NotFound,
    RetryPolicy,
    Unauthorized,
)
from exchange.client.models import Job
from tests.client.conftest import PURPOSE, Running, offer_terms, published


def test_provider_uploads_sets_a_policy_and_publishes(running: Running, citizens_csv: Path):
    seen: list[tuple[int, int | None]] = []
    with running.client("provider") as provider, running.client("buyer") as buyer:
        dataset = provider.upload_dataset(
            citizens_csv,
            name="citizens",
            domain="population",
            grade="general",
            progress=lambda done, total: seen.append((done, total)),
        )
        assert dataset.rows == 400 and dataset.filename == "citizens.csv"
        assert dataset.policy is None and dataset.suggested_policy["columns"]
        size = citizens_csv.stat().st_size
        assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] and seen[-1][1] > size
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)

        policy = dataset.suggested_policy
        policy["k"] = 3
        with_policy = provider.set_policy(dataset.id, policy)
        assert with_policy.policy_hash
        preview = provider.preview(dataset.id, rows=3)
        assert len(preview.rows) == 3 and "risk_after" in preview.report
        assert provider.dataset_profile(dataset.id) == dataset.profile
        assert dataset.id in {d.id for d in provider.list_datasets()}

        offer = provider.publish_offer(dataset.id, **offer_terms())
        assert offer.status == "active" and offer.shares_bp["provider"] == 8000
        assert provider.get_offer(offer.id).id == offer.id
        assert offer.id in {e.offer_id for e in buyer.catalog(domain="population")}
        entry = buyer.catalog_entry(offer.id)
        assert entry.sample and entry.sample["synthetic"] is True
        assert {s["name"] for s in entry.schema_} <= set(policy["columns"])


def test_buyer_quotes_leases_pays_and_downloads(
    running: Running, citizens_csv: Path, tmp_path: Path
):
    dataset_id, offer_id = published(running, citizens_csv)
    with running.client("buyer") as buyer, running.client("provider") as provider:
        quote = buyer.quote(offer_id, PURPOSE, days=10, epsilon=1.0)
        assert quote.total_minor > 0 and quote.factors[0].name == "base"
        lease = buyer.request_lease(offer_id, PURPOSE, days=10, epsilon=1.0)
        assert lease.status == "approved"

        key = "pay-" + lease.id
        paid = buyer.pay(lease.id, idempotency_key=key)
        again = buyer.pay(lease.id, idempotency_key=key)
        assert paid.status == again.status == "active"
        assert paid.price_minor == quote.total_minor
        # paid once: the provider's share of one payment, not two
        statement = provider.revenue()
        credited = [p for p in statement.postings if p.lease_id == lease.id]
        assert sum(p.amount_minor for p in credited) == quote.total_minor * 8000 // 10000

        states: list[Job] = []
        received: list[int] = []
        csv = buyer.download_extract(
            lease.id,
            tmp_path / "extract.csv",
            on_job=states.append,
            progress=lambda done, _total: received.append(done),
        )
        assert states and states[-1].state == "done" and csv.job is not None
        assert received[-1] == csv.size == (tmp_path / "extract.csv").stat().st_size
        frame = pd.read_csv(tmp_path / "extract.csv")
        assert len(frame) == csv.job.rows_done > 0
        assert not list(tmp_path.glob("*.part"))

        into = io.BytesIO()
        parquet = buyer.download_extract(lease.id, into, format="parquet")
        assert parquet.job is None  # made once, then streamed
        assert parquet.sha256 == parquet.extract_sha256 == buyer.get_lease(lease.id).extract_sha256
        assert pd.read_parquet(io.BytesIO(into.getvalue())).shape[0] == len(frame)

        answer = buyer.query(lease.id, "count", epsilon=0.25)
        assert answer.lease_epsilon_remaining == pytest.approx(0.75)
        assert buyer.lease_budget(lease.id).epsilon_spent == pytest.approx(0.25)
        receipt = buyer.receipts(lease.id).receipts[0]
        assert receipt.index == csv.receipt_index and receipt.inclusion["proof"] is not None
        assert lease.id in {item.id for item in buyer.list_leases()}
        assert dataset_id in {b.dataset_id for b in _auditor(running).audit_budgets()}


def _auditor(running: Running) -> Client:
    return running.client("auditor")


def test_auditor_exports_and_verifies(running: Running, citizens_csv: Path, tmp_path: Path):
    published(running, citizens_csv)
    with _auditor(running) as auditor:
        head = auditor.audit_head()
        export = auditor.audit_export(tmp_path / "ledger.jsonl")
        assert export.size == (tmp_path / "ledger.jsonl").stat().st_size > 0
        pem = auditor.public_key().public_key_pem
        report = auditor.verify_export(tmp_path / "ledger.jsonl", pem)
        assert report.ok and report.tree_size >= head.size
        balances = auditor.balances()
        assert balances.balanced and balances.sum_minor == 0
        assert auditor.audit_entries(0, 2)[0].index == 0
        assert len(list(auditor.iter_audit_entries(page=5))) >= head.size

        lines = (tmp_path / "ledger.jsonl").read_text().splitlines()
        assert '"role":"operator"' in lines[1]  # the first account, created on the host
        lines[1] = lines[1].replace('"role":"operator"', '"role":"auditor"')
        (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
        tampered = auditor.verify_export(tmp_path / "bad.jsonl", pem)
        assert not tampered.ok and tampered.first_failing_index == 0


def test_error_answers_carry_the_api_error_body(running: Running, citizens_csv: Path):
    with running.client("buyer") as buyer:
        with pytest.raises(NotFound) as missing:
            buyer.get_lease("lse_nope")
        assert missing.value.status == 404 and missing.value.code == "not_found"
        assert "lse_nope" in missing.value.message
        assert missing.value.body == {"error": {"code": "not_found", "message": missing.value.message}}

        with pytest.raises(Forbidden) as wrong_role:
            buyer.upload_dataset(citizens_csv, name="not mine to upload")
        assert wrong_role.value.status == 403

        with pytest.raises(Invalid) as invalid:
            buyer.quote("off_nope", PURPOSE, days=0)
        assert invalid.value.status == 422 and invalid.value.details
        assert invalid.value.to_json()["code"] == "invalid"

    secret = "dlk_not-a-real-key-0123456789"
    with Client(running.url, secret) as stranger, pytest.raises(Unauthorized) as denied:
        stranger.me()
    assert denied.value.status == 401
    assert secret not in str(denied.value) and secret not in repr(stranger)
    assert secret not in json.dumps(denied.value.to_json())


class LoseFirstAnswer(httpx.BaseTransport):
    """Sends each request to the server, but drops the first answer to a matching path,
    as a connection that breaks after the server has applied the request."""

    def __init__(self, suffix: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.suffix = suffix
        self.lost = 0
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith(self.suffix):
            self.keys.append(request.headers.get("idempotency-key"))
            if not self.lost:
                self.lost += 1
                response.read()
                response.close()
                raise httpx.ReadError("connection reset", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_payment_whose_answer_is_lost_is_retried_and_charged_once(
    running: Running, citizens_csv: Path
):
    _, offer_id = published(running, citizens_csv)
    transport = LoseFirstAnswer("/pay")
    retry = RetryPolicy(attempts=3, backoff=0)
    with (
        Client(running.url, running.keys["buyer"], transport=transport, retry=retry) as buyer,
        running.client("provider") as provider,
    ):
        lease = buyer.request_lease(offer_id, PURPOSE, days=5)
        paid = buyer.pay(lease.id)
        assert paid.status == "active"
        assert transport.lost == 1 and len(transport.keys) == 2
        assert transport.keys[0] == transport.keys[1] is not None
        credited = [p for p in provider.revenue().postings if p.lease_id == lease.id]
        assert len(credited) == 1


def test_an_upload_whose_answer_is_lost_is_resent_byte_for_byte(
    running: Running, citizens_csv: Path
):
    transport = LoseFirstAnswer("/v1/datasets")
    retry = RetryPolicy(attempts=3, backoff=0)
    with Client(running.url, running.keys["provider"], transport=transport, retry=retry) as c:
        before = {d.id for d in c.list_datasets()}
        with citizens_csv.open("rb") as fh:  # a seekable file is read again from its start
            dataset = c.upload_dataset(fh, name="sent twice, stored once")
        after = {d.id for d in c.list_datasets()} - before
    # the retry was a replay of the first, applied request (same key, same bytes)
    assert after == {dataset.id}


def test_busy_answers_are_retried_with_the_same_key():
    keys: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) < 3:
            busy = {"error": {"code": "busy", "message": "the server is busy"}}
            return httpx.Response(503, json=busy, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"status": "ok"})

    transport = httpx.MockTransport(answer)
    with Client("http://exchange.test", "k", transport=transport) as c:
        c._json("POST", "/v1/anything")
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0]

    keys.clear()
    always_busy = httpx.MockTransport(
        lambda r: httpx.Response(
            503,
            json={"error": {"code": "busy", "message": "busy"}},
            headers={"Retry-After": "0"},
        )
    )
    with (
        Client("http://exchange.test", "k", transport=always_busy) as c,
        pytest.raises(ApiError) as gave_up,
    ):
        c.healthz()
    assert gave_up.value.status == 503 and gave_up.value.code == "busy"
