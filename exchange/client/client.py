"""The datalease API from Python: one method per operation, typed results."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from exchange.client import models as m
from exchange.client.errors import ClientError, DownloadMismatch, JobFailed, JobTimeout
from exchange.client.governance import GovernanceCalls
from exchange.client.subjects import SubjectCalls
from exchange.client.transport import Progress, RetryPolicy, Sender, Source, multipart

T = TypeVar("T", bound=BaseModel)
JobProgress = Callable[[m.Job], None]
Destination = str | os.PathLike[str] | IO[bytes]
UploadData = str | os.PathLike[str] | bytes | IO[bytes]
USER_AGENT = "datalease-client/0.1"
DEFAULT_TIMEOUT = 120.0
JOB_TIMEOUT = 3600.0
JOB_POLL = 0.5
MEDIA_TYPES = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}


class Client(GovernanceCalls, SubjectCalls):
    """A synchronous client of one exchange, acting as the account whose key it holds.

    ``Client("http://127.0.0.1:8000", key)``; use it as a context manager or call
    :meth:`close`. State-changing calls carry an ``Idempotency-Key`` (pass your own to
    :meth:`pay` to retry a payment across processes) and are retried on connection errors,
    429 and 503. Errors are raised as :class:`~exchange.client.errors.ApiError` subclasses
    carrying the API's status, code and message.
    """

    def __init__(
        self,
        url: str,
        key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"user-agent": USER_AGENT}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )
        self._send = Sender(self._http, retry or RetryPolicy())

    def __repr__(self) -> str:  # never the key
        return f"Client({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send.send(method, path, **kwargs).json()

    def _one(self, model: type[T], method: str, path: str, **kwargs: Any) -> T:
        return model.model_validate(self._json(method, path, **kwargs))

    def _many(self, model: type[T], method: str, path: str, **kwargs: Any) -> list[T]:
        return TypeAdapter(list[model]).validate_python(  # type: ignore[valid-type]
            self._json(method, path, **kwargs)
        )

    # --- health and accounts -------------------------------------------------------------

    def healthz(self) -> bool:
        return bool(self._json("GET", "/healthz").get("status") == "ok")

    def me(self) -> m.Account:
        return self._one(m.Account, "GET", "/v1/me")

    def create_account(
        self,
        name: str,
        role: str,
        organisation: str = "",
        *,
        authority_level: str | None = None,
        duties: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> m.AccountWithKey:
        """Operator: a new account and its first API key (shown once). ``authority_level``
        (community, district, municipal) and ``duties`` (compliance, data_officer) decide
        which listing reviews and lease approval steps it may decide."""
        body: dict[str, Any] = {"name": name, "role": role, "organisation": organisation}
        if authority_level is not None:
            body["authority_level"] = authority_level
        if duties:
            body["duties"] = list(duties)
        return self._one(
            m.AccountWithKey,
            "POST",
            "/v1/accounts",
            json=body,
            idempotency_key=idempotency_key,
        )

    def list_accounts(self) -> list[m.Account]:
        return self._many(m.Account, "GET", "/v1/accounts")

    def issue_key(self, account_id: str) -> m.AccountWithKey:
        """Operator: a new API key for the account (shown once); old keys stay valid."""
        return self._one(m.AccountWithKey, "POST", f"/v1/accounts/{account_id}/keys")

    def revoke_keys(self, account_id: str) -> m.Account:
        return self._one(m.Account, "POST", f"/v1/accounts/{account_id}/revoke-keys")

    # --- datasets (provider) -------------------------------------------------------------

    def upload_dataset(
        self,
        data: UploadData,
        *,
        name: str,
        grade: str | None = None,
        domain: str | None = None,
        description: str | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        filename: str | None = None,
        progress: Progress | None = None,
    ) -> m.Dataset:
        """Upload a CSV or Parquet file, streamed from a path, bytes or an open file.

        ``progress(sent, total)`` is called as the bytes go out. A path, bytes or a seekable
        file is sent again, byte for byte, if the connection drops."""
        source = Source(data)
        fname = filename or source.name
        fields = {
            k: v
            for k, v in {
                "name": name,
                "grade": grade,
                "domain": domain,
                "description": description,
                "encoding": encoding,
                "delimiter": delimiter,
            }.items()
            if v is not None
        }
        media = MEDIA_TYPES.get(Path(fname).suffix.lower(), "application/octet-stream")
        body = multipart(
            fields, "file", source, filename=fname, media_type=media, progress=progress
        )
        return self._one(m.Dataset, "POST", "/v1/datasets", body=body)

    def list_datasets(self) -> list[m.Dataset]:
        return self._many(m.Dataset, "GET", "/v1/datasets")

    def get_dataset(self, dataset_id: str) -> m.Dataset:
        return self._one(m.Dataset, "GET", f"/v1/datasets/{dataset_id}")

    def dataset_profile(self, dataset_id: str) -> dict[str, Any]:
        """The upload's profile: columns' kinds and classes, and the suggested policy."""
        return self.get_dataset(dataset_id).profile

    def set_policy(self, dataset_id: str, policy: Mapping[str, Any]) -> m.Dataset:
        """Set the desensitization policy; the release gate may refuse it (422)."""
        return self._one(m.Dataset, "PUT", f"/v1/datasets/{dataset_id}/policy", json=policy)

    def preview(self, dataset_id: str, rows: int = 20) -> m.Preview:
        """The provider's own view of desensitized rows and the release report (logged)."""
        return self._one(
            m.Preview, "GET", f"/v1/datasets/{dataset_id}/preview", params={"rows": rows}
        )

    # --- lifetime budgets ----------------------------------------------------------------

    def request_budget(self, dataset_id: str, epsilon_cap: float, reason: str) -> m.BudgetRequest:
        """Provider: ask the operator for a new lifetime epsilon for the dataset."""
        return self._one(
            m.BudgetRequest,
            "POST",
            f"/v1/datasets/{dataset_id}/budget-requests",
            json={"epsilon_cap": epsilon_cap, "reason": reason},
        )

    def list_budget_requests(
        self, dataset_id: str | None = None, status: str | None = None
    ) -> list[m.BudgetRequest]:
        return self._many(
            m.BudgetRequest,
            "GET",
            "/v1/budget-requests",
            params={"dataset_id": dataset_id, "status": status},
        )

    def approve_budget_request(self, request_id: str, reason: str = "") -> m.BudgetRequest:
        return self._one(
            m.BudgetRequest,
            "POST",
            f"/v1/budget-requests/{request_id}/approve",
            json={"reason": reason},
        )

    def reject_budget_request(self, request_id: str, reason: str = "") -> m.BudgetRequest:
        return self._one(
            m.BudgetRequest,
            "POST",
            f"/v1/budget-requests/{request_id}/reject",
            json={"reason": reason},
        )

    # --- offers and the catalog ----------------------------------------------------------

    def publish_offer(
        self,
        dataset_id: str,
        *,
        title: str,
        terms: Mapping[str, Any],
        pricing: Mapping[str, Any],
        shares_bp: Mapping[str, int],
        epsilon_cap: float | None = None,
        k: int | None = None,
    ) -> m.Offer:
        """Provider: list the dataset's release. ``pricing`` is in fen; ``shares_bp`` in
        basis points summing to 10000; the first offer's ``epsilon_cap`` sets the
        dataset's lifetime budget."""
        body: dict[str, Any] = {
            "dataset_id": dataset_id,
            "title": title,
            "terms": dict(terms),
            "pricing": dict(pricing),
            "shares_bp": dict(shares_bp),
        }
        if epsilon_cap is not None:
            body["epsilon_cap"] = epsilon_cap
        if k is not None:
            body["k"] = k
        return self._one(m.Offer, "POST", "/v1/offers", json=body)

    def get_offer(self, offer_id: str) -> m.Offer:
        return self._one(m.Offer, "GET", f"/v1/offers/{offer_id}")

    def withdraw_offer(self, offer_id: str) -> m.Offer:
        return self._one(m.Offer, "POST", f"/v1/offers/{offer_id}/withdraw")

    def catalog(
        self, *, domain: str | None = None, grade: str | None = None, q: str | None = None
    ) -> list[m.CatalogEntry]:
        return self._many(
            m.CatalogEntry,
            "GET",
            "/v1/catalog",
            params={"domain": domain, "grade": grade, "q": q},
        )

    def catalog_entry(self, offer_id: str) -> m.CatalogEntry:
        """One offer with a synthetic sample (never a real row) and the release's figures."""
        return self._one(m.CatalogEntry, "GET", f"/v1/catalog/{offer_id}")

    # --- quotes and leases (buyer) -------------------------------------------------------

    @staticmethod
    def _lease_body(
        offer_id: str,
        purpose: str,
        *,
        days: int,
        columns: Sequence[str] | None,
        epsilon: float,
        starts_at: datetime | None,
        purpose_text: str,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "offer_id": offer_id,
            "purpose": purpose,
            "purpose_text": purpose_text,
            "days": days,
            "epsilon": epsilon,
        }
        if columns is not None:
            body["columns"] = list(columns)
        if starts_at is not None:
            if starts_at.tzinfo is None:
                raise ValueError("starts_at needs a timezone (the exchange keeps UTC)")
            body["starts_at"] = starts_at.isoformat()
        return body

    def quote(
        self,
        offer_id: str,
        purpose: str,
        *,
        days: int = 30,
        columns: Sequence[str] | None = None,
        epsilon: float = 0.0,
        starts_at: datetime | None = None,
        purpose_text: str = "",
    ) -> m.Quote:
        """What the lease would cost now, itemised in fen; nothing is stored."""
        body = self._lease_body(
            offer_id,
            purpose,
            days=days,
            columns=columns,
            epsilon=epsilon,
            starts_at=starts_at,
            purpose_text=purpose_text,
        )
        return self._one(m.Quote, "POST", "/v1/quotes", json=body)

    def request_lease(
        self,
        offer_id: str,
        purpose: str,
        *,
        days: int = 30,
        columns: Sequence[str] | None = None,
        epsilon: float = 0.0,
        starts_at: datetime | None = None,
        purpose_text: str = "",
        idempotency_key: str | None = None,
    ) -> m.Lease:
        """Buyer: ask for a lease; important-grade data waits for the provider's approval."""
        body = self._lease_body(
            offer_id,
            purpose,
            days=days,
            columns=columns,
            epsilon=epsilon,
            starts_at=starts_at,
            purpose_text=purpose_text,
        )
        return self._one(m.Lease, "POST", "/v1/leases", json=body, idempotency_key=idempotency_key)

    def list_leases(self) -> list[m.Lease]:
        return self._many(m.Lease, "GET", "/v1/leases")

    def get_lease(self, lease_id: str) -> m.Lease:
        return self._one(m.Lease, "GET", f"/v1/leases/{lease_id}")

    def approve_lease(self, lease_id: str, reason: str = "") -> m.Lease:
        """Decide the lease's next approval step (``lease.awaiting``) as this account; the
        last step of ``lease.approval_chain`` approves the lease."""
        return self._one(m.Lease, "POST", f"/v1/leases/{lease_id}/approve", json={"reason": reason})

    def reject_lease(self, lease_id: str, reason: str = "") -> m.Lease:
        return self._one(m.Lease, "POST", f"/v1/leases/{lease_id}/reject", json={"reason": reason})

    def pay(self, lease_id: str, *, idempotency_key: str | None = None) -> m.Lease:
        """Pay an approved lease. Retried with one ``Idempotency-Key``, so it is charged
        once; pass your own key to make a retry from another process safe as well."""
        return self._one(
            m.Lease, "POST", f"/v1/leases/{lease_id}/pay", idempotency_key=idempotency_key
        )

    def revoke_lease(self, lease_id: str, reason: str = "") -> m.Lease:
        """Provider or operator: end the lease now; the buyer is refunded pro rata."""
        return self._one(m.Lease, "POST", f"/v1/leases/{lease_id}/revoke", json={"reason": reason})

    def download_extract(
        self,
        lease_id: str,
        dest: Destination,
        *,
        format: str = "csv",
        progress: Progress | None = None,
        on_job: JobProgress | None = None,
        timeout: float = JOB_TIMEOUT,
        poll: float = JOB_POLL,
    ) -> m.Download:
        """Download the lease's extract to ``dest`` (a path or a binary file).

        The first request may start the job that makes the extract (``202 Accepted``): the
        client waits for it, calling ``on_job(job)`` at each look, then downloads, calling
        ``progress(received, total)``. A Parquet download is checked against the hash the
        server recorded. A download is counted only when its last chunk arrives."""
        if format not in ("csv", "parquet"):
            raise ValueError("format is csv or parquet")
        deadline = time.monotonic() + timeout
        path = f"/v1/leases/{lease_id}/extract"
        job: m.Job | None = None
        while True:
            response = self._send.send("GET", path, params={"format": format}, stream=True)
            if response.status_code == 202:
                try:
                    response.read()
                    started = m.Job.model_validate(response.json())
                finally:
                    response.close()
                job = self.wait_for_job(
                    started.id,
                    on_progress=on_job,
                    timeout=max(0.0, deadline - time.monotonic()),
                    poll=poll,
                    first=started,
                )
                continue
            try:
                download = _receive(response, dest, progress)
            finally:
                response.close()
            download.job = job
            recorded = download.extract_sha256
            # The server hashes the stored Parquet file; a CSV is made from it per download.
            if format == "parquet" and recorded and download.sha256 != recorded:
                raise DownloadMismatch(
                    f"the extract of {lease_id} arrived with SHA-256 {download.sha256}, "
                    f"the server recorded {recorded}: download it again"
                )
            return download

    def query(
        self,
        lease_id: str,
        op: str,
        *,
        epsilon: float,
        column: str | None = None,
        by: str | None = None,
        bounds: Sequence[float] | None = None,
        bins: int | None = None,
        range: Sequence[float] | None = None,
        groups: Sequence[str | int | float | bool] | None = None,
        max_groups: int | None = None,
        delta: float | None = None,
    ) -> m.QueryAnswer:
        """A differentially private aggregate (count, sum, mean, histogram, group_count,
        group_sum), charged exactly to the lease's epsilon."""
        body: dict[str, Any] = {"op": op, "epsilon": epsilon}
        for name, value in {
            "column": column,
            "by": by,
            "bounds": list(bounds) if bounds is not None else None,
            "bins": bins,
            "range": list(range) if range is not None else None,
            "groups": list(groups) if groups is not None else None,
            "max_groups": max_groups,
            "delta": delta,
        }.items():
            if value is not None:
                body[name] = value
        return self._one(m.QueryAnswer, "POST", f"/v1/leases/{lease_id}/queries", json=body)

    def lease_budget(self, lease_id: str) -> m.LeaseBudget:
        return self._one(m.LeaseBudget, "GET", f"/v1/leases/{lease_id}/budget")

    def receipts(self, lease_id: str) -> m.Receipts:
        """The lease's desensitization receipt with its inclusion proof."""
        return self._one(m.Receipts, "GET", f"/v1/leases/{lease_id}/receipts")

    # --- jobs ----------------------------------------------------------------------------

    def get_job(self, job_id: str) -> m.Job:
        return self._one(m.Job, "GET", f"/v1/jobs/{job_id}")

    def wait_for_job(
        self,
        job_id: str,
        *,
        on_progress: JobProgress | None = None,
        timeout: float = JOB_TIMEOUT,
        poll: float = JOB_POLL,
        first: m.Job | None = None,
    ) -> m.Job:
        """The job once done, calling ``on_progress(job)`` at each look; :class:`JobFailed`
        if it failed, :class:`JobTimeout` if still running after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        job = first or self.get_job(job_id)
        while True:
            if on_progress is not None:
                on_progress(job)
            if job.state == "done":
                return job
            if job.state == "failed":
                raise JobFailed(job)
            if time.monotonic() >= deadline:
                raise JobTimeout(job, timeout)
            time.sleep(poll)
            job = self.get_job(job_id)

    # --- revenue -------------------------------------------------------------------------

    def revenue(self) -> m.RevenueStatement:
        """Provider: the revenue statement, derived from ledger postings (fen)."""
        return self._one(m.RevenueStatement, "GET", "/v1/revenue")

    # --- audit ---------------------------------------------------------------------------

    def audit_head(self) -> m.TreeHead:
        return self._one(m.TreeHead, "GET", "/v1/audit/head")

    def public_key(self) -> m.PublicKey:
        return self._one(m.PublicKey, "GET", "/v1/ledger/public-key")

    def audit_entries(self, start: int = 0, limit: int = 100) -> list[m.LogEntry]:
        return self._many(
            m.LogEntry, "GET", "/v1/audit/entries", params={"start": start, "limit": limit}
        )

    def iter_audit_entries(self, start: int = 0, page: int = 1000) -> Iterator[m.LogEntry]:
        """Every log entry from ``start``, page by page."""
        while True:
            batch = self.audit_entries(start, page)
            yield from batch
            if len(batch) < page:
                return
            start = batch[-1].index + 1

    def audit_events(
        self, start: int = 0, limit: int = 500, kind: str | None = None
    ) -> list[dict[str, Any]]:
        return list(
            self._json(
                "GET",
                "/v1/audit/events",
                params={"start": start, "limit": limit, "kind": kind},
            )
        )

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        return dict(
            self._json("GET", "/v1/audit/proofs/inclusion", params={"index": index, "size": size})
        )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        return dict(
            self._json(
                "GET",
                "/v1/audit/proofs/consistency",
                params={"old_size": old_size, "new_size": new_size},
            )
        )

    def audit_export(self, dest: Destination, *, progress: Progress | None = None) -> m.Download:
        """The verifiable log as JSON lines, for :meth:`verify_export` or
        ``datalease verify-ledger``."""
        response = self._send.send("GET", "/v1/audit/export", stream=True)
        try:
            return _receive(response, dest, progress)
        finally:
            response.close()

    def verify_export(
        self, export: str | os.PathLike[str], public_key: str | bytes | None = None
    ) -> Any:
        """Verify an export offline: hashes, signed heads, balance and splits.

        Pass the ``public_key`` (PEM or hex) you trust; without it the key is read from this
        server, which checks the export's integrity but not the server's honesty. Returns
        :class:`contracts.verify.VerificationReport`."""
        from contracts.verify import verify_export_file

        key = public_key if public_key is not None else self.public_key().public_key_pem
        return verify_export_file(Path(export), key, workers=max(1, min(os.cpu_count() or 1, 4)))

    def audit_budgets(self) -> list[m.DatasetBudget]:
        return self._many(m.DatasetBudget, "GET", "/v1/audit/budgets")

    def balances(self) -> m.Balances:
        """Auditor: every party's balance, derived from postings (fen)."""
        return self._one(m.Balances, "GET", "/v1/audit/revenue")

    def trace(
        self, data: UploadData, *, filename: str | None = None, progress: Progress | None = None
    ) -> m.TraceResult:
        """Auditor: name the lease a leaked CSV or Parquet file came from."""
        source = Source(data)
        fname = filename or source.name
        media = MEDIA_TYPES.get(Path(fname).suffix.lower(), "application/octet-stream")
        body = multipart({}, "file", source, filename=fname, media_type=media, progress=progress)
        return self._one(m.TraceResult, "POST", "/v1/audit/trace", body=body)

    def transparency(self, dataset_id: str) -> m.Transparency:
        """Public: who leases the dataset, for what purpose and period, epsilon spent."""
        return self._one(m.Transparency, "GET", f"/v1/transparency/{dataset_id}")


@contextmanager
def _sink(dest: Destination) -> Iterator[tuple[IO[bytes], str | None]]:
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("wb") as fh:
                yield fh, str(path)
            partial.replace(path)  # a whole file or none under the name asked for
        finally:
            partial.unlink(missing_ok=True)
    else:
        yield dest, None


def _receive(response: httpx.Response, dest: Destination, progress: Progress | None) -> m.Download:
    declared = response.headers.get("content-length")
    total = int(declared) if declared and declared.isdigit() else None
    digest = hashlib.sha256()
    done = 0
    if progress is not None:
        progress(0, total)
    with _sink(dest) as (fh, path):
        for chunk in response.iter_bytes():
            fh.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    receipt = response.headers.get("x-receipt-index", "")
    return m.Download(
        path=path,
        size=done,
        sha256=digest.hexdigest(),
        media_type=response.headers.get("content-type", ""),
        extract_sha256=response.headers.get("x-extract-sha256") or None,
        receipt_index=int(receipt) if receipt.isdigit() else None,
    )


__all__ = ["Client", "ClientError"]
