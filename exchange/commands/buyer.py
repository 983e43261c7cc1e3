"""Buyer workflow: ``catalog``, ``quote``, ``lease request|approve|reject|pay|extract|query|
budget|revoke|list|show`` and ``job watch``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from exchange.client.models import CatalogEntry, Lease, Quote
from exchange.commands.common import (
    JSON_OPTION,
    client,
    fen,
    fields,
    job_bar,
    out,
    print_json,
    rows,
    show_progress,
    transfer_bar,
)

lease_app = typer.Typer(help="Leases: request, approve, pay, download, query, revoke.")
job_app = typer.Typer(help="Jobs: long work a request started (extracts).")

PURPOSE = typer.Option(..., help="a purpose the offer allows, e.g. academic-research")
DAYS = typer.Option(30, min=1, help="the lease's length in days")
COLUMNS = typer.Option(None, "--column", help="a column to lease (repeat; default: all)")
EPSILON = typer.Option(0.0, min=0, help="epsilon for DP queries during the lease")
PURPOSE_TEXT = typer.Option("", help="the purpose in your words, for the provider")


def catalog(
    ctx: typer.Context,
    offer_id: str | None = typer.Argument(None, help="one offer, with a synthetic sample"),
    domain: str | None = typer.Option(None, help="only this domain"),
    grade: str | None = typer.Option(None, help="important or general"),
    q: str | None = typer.Option(None, "--search", "-q", help="words in the title or text"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Browse active offers: schema, terms, indicative price (never a real row)."""
    with client(ctx, as_json) as c:
        if offer_id:
            entry = c.catalog_entry(offer_id)
            if as_json:
                print_json(entry)
            else:
                _show_entry(entry)
            return
        entries = c.catalog(domain=domain, grade=grade, q=q)
    if as_json:
        print_json(entries)
        return
    rows(
        ["offer", "title", "domain", "grade", "rows", "k", "indicative price", "ε left"],
        [
            [
                e.offer_id,
                e.title,
                e.domain,
                e.grade,
                f"{e.rows:,}",
                e.k,
                fen(e.indicative_price_minor),
                f"{e.epsilon_remaining:g}",
            ]
            for e in entries
        ],
    )


def _show_entry(entry: CatalogEntry) -> None:
    fields(
        [
            ("offer", entry.offer_id),
            ("title", entry.title),
            ("dataset", f"{entry.dataset_name} ({entry.dataset_id}), {entry.rows:,} rows"),
            ("grade", entry.grade),
            ("k", entry.k),
            ("purposes", ", ".join(entry.terms.get("allowed_purposes", []))),
            ("indicative price", fen(entry.indicative_price_minor)),
            ("ε left", f"{entry.epsilon_remaining:g} of {entry.epsilon_cap:g}"),
        ]
    )
    rows(
        ["column", "class", "rule"],
        [[s.get("name"), s.get("class"), s.get("rule")] for s in entry.schema_],
        title="schema",
    )
    sample = entry.sample or {}
    if sample.get("rows"):
        names = sample.get("columns", [])
        data = [r if isinstance(r, list) else [r.get(n) for n in names] for r in sample["rows"]]
        rows(names, data[:5], title="synthetic sample (no real row)")


def _show_quote(quote: Quote) -> None:
    rows(
        ["factor", "×", "why"],
        [[f.name, f"{f.numerator}/{f.denominator}", f.explanation] for f in quote.factors],
        title=f"quote {quote.id}",
    )
    note = " (the offer's minimum)" if quote.minimum_applied else ""
    out.print(f"total {fen(quote.total_minor, quote.currency)}{note}", highlight=False)


def quote(
    ctx: typer.Context,
    offer_id: str = typer.Argument(...),
    purpose: str = PURPOSE,
    days: int = DAYS,
    column: list[str] | None = COLUMNS,
    epsilon: float = EPSILON,
    as_json: bool = JSON_OPTION,
) -> None:
    """What a lease would cost now, itemised (nothing is stored)."""
    with client(ctx, as_json) as c:
        priced = c.quote(offer_id, purpose, days=days, columns=column or None, epsilon=epsilon)
    if as_json:
        print_json(priced)
        return
    _show_quote(priced)


def _show_lease(lease: Lease) -> None:
    fields(
        [
            ("id", lease.id),
            ("status", lease.status),
            ("offer", lease.offer_id),
            ("purpose", lease.purpose),
            ("period", f"{lease.starts_at:%Y-%m-%d} → {lease.ends_at:%Y-%m-%d}"),
            ("price", fen(lease.price_minor)),
            ("refund", fen(lease.refund_minor) if lease.refund_minor else None),
            ("downloads", f"{lease.downloads} of {lease.max_downloads}"),
            ("ε queries", f"{lease.epsilon_queries_spent:g} spent of {lease.epsilon_queries:g}"),
            ("approval", approval_progress(lease)),
            ("reason", lease.decision_reason or None),
        ]
    )


def approval_progress(lease: Lease) -> str | None:
    """The chain as steps done, the one awaited, and those after: ``data_officer ✓ →
    district (next) → municipal``; None for a lease approved at once."""
    if not lease.approval_chain:
        return None
    done = len(lease.approvals)
    marks = [
        f"{step} ✓"
        if i < done
        else f"{step} (next)"
        if step == lease.awaiting and i == done
        else step
        for i, step in enumerate(lease.approval_chain)
    ]
    return " → ".join(marks)


def _lease_out(lease: Lease, as_json: bool) -> None:
    if as_json:
        print_json(lease)
    else:
        _show_lease(lease)


@lease_app.command("request")
def request(
    ctx: typer.Context,
    offer_id: str = typer.Argument(...),
    purpose: str = PURPOSE,
    days: int = DAYS,
    column: list[str] | None = COLUMNS,
    epsilon: float = EPSILON,
    purpose_text: str = PURPOSE_TEXT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask for a lease; important-grade data waits for the provider's approval."""
    with client(ctx, as_json) as c:
        lease = c.request_lease(
            offer_id,
            purpose,
            days=days,
            columns=column or None,
            epsilon=epsilon,
            purpose_text=purpose_text,
        )
    _lease_out(lease, as_json)


REASON = typer.Option("", help="why, for the log")


@lease_app.command("approve")
def approve(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    reason: str = REASON,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide the lease's next approval step as this account (provider or data officer);
    the chain's last step approves it."""
    with client(ctx, as_json) as c:
        lease = c.approve_lease(lease_id, reason)
    _lease_out(lease, as_json)


@lease_app.command("reject")
def reject(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    reason: str = REASON,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject a requested lease at its next approval step."""
    with client(ctx, as_json) as c:
        lease = c.reject_lease(lease_id, reason)
    _lease_out(lease, as_json)


@lease_app.command("pay")
def pay(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    idempotency_key: str | None = typer.Option(
        None, help="reuse a key to retry a payment safely (made for you when absent)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pay an approved lease (retried with one Idempotency-Key: charged once)."""
    with client(ctx, as_json) as c:
        lease = c.pay(lease_id, idempotency_key=idempotency_key)
    _lease_out(lease, as_json)


@lease_app.command("revoke")
def revoke(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    reason: str = REASON,
    as_json: bool = JSON_OPTION,
) -> None:
    """Provider or operator: end a lease now; the buyer is refunded pro rata."""
    with client(ctx, as_json) as c:
        lease = c.revoke_lease(lease_id, reason)
    _lease_out(lease, as_json)


@lease_app.command("show")
def show(
    ctx: typer.Context, lease_id: str = typer.Argument(...), as_json: bool = JSON_OPTION
) -> None:
    """One lease."""
    with client(ctx, as_json) as c:
        lease = c.get_lease(lease_id)
    _lease_out(lease, as_json)


@lease_app.command("list")
def list_leases(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Your leases (a provider's: those of its datasets)."""
    with client(ctx, as_json) as c:
        found = c.list_leases()
    if as_json:
        print_json(found)
        return
    rows(
        ["lease", "status", "offer", "purpose", "ends", "price", "downloads"],
        [
            [
                lease.id,
                lease.status,
                lease.offer_id,
                lease.purpose,
                f"{lease.ends_at:%Y-%m-%d}",
                fen(lease.price_minor),
                f"{lease.downloads}/{lease.max_downloads}",
            ]
            for lease in found
        ],
    )


@lease_app.command("extract")
def extract(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    out_path: Path | None = typer.Option(
        None, "--out", "-o", help="where to write it (default: LEASE.FORMAT here)"
    ),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet"),
    timeout: float = typer.Option(3600, help="seconds to wait for the job making it"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Download the lease's extract, waiting for the job that makes it the first time."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("--format is csv or parquet")
    path = out_path or Path(f"{lease_id}.{fmt}")
    show = show_progress(as_json)
    with (
        client(ctx, as_json) as c,
        job_bar("making the extract", show) as on_job,
        transfer_bar(f"downloading {path.name}", show) as progress,
    ):
        got = c.download_extract(
            lease_id, path, format=fmt, progress=progress, on_job=on_job, timeout=timeout
        )
    if as_json:
        print_json(got)
        return
    fields(
        [
            ("file", got.path),
            ("bytes", f"{got.size:,}"),
            ("sha256", got.sha256),
            (
                "receipt",
                f"log index {got.receipt_index}" if got.receipt_index is not None else None,
            ),
        ]
    )


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{option}: numbers separated by commas") from None


@lease_app.command("query")
def query(
    ctx: typer.Context,
    lease_id: str = typer.Argument(...),
    op: str = typer.Option(..., help="count, sum, mean, histogram, group_count or group_sum"),
    epsilon: float = typer.Option(..., help="epsilon this query spends"),
    column: str | None = typer.Option(None, help="the column aggregated"),
    by: str | None = typer.Option(None, help="the column grouped by"),
    bounds: str | None = typer.Option(None, help="LOW,HIGH clamp for sum and mean"),
    bins: int | None = typer.Option(None, help="histogram bins"),
    range_: str | None = typer.Option(None, "--range", help="LOW,HIGH of a histogram"),
    groups: str | None = typer.Option(
        None, help="the public group keys, comma separated (else DP partition selection)"
    ),
    max_groups: int | None = typer.Option(None, help="groups one person's rows may fall in"),
    delta: float | None = typer.Option(None, help="delta for partition selection"),
    as_json: bool = JSON_OPTION,
) -> None:
    """A differentially private aggregate, charged to the lease's epsilon."""
    with client(ctx, as_json) as c:
        answer = c.query(
            lease_id,
            op,
            epsilon=epsilon,
            column=column,
            by=by,
            bounds=_floats(bounds, "--bounds"),
            bins=bins,
            range=_floats(range_, "--range"),
            groups=groups.split(",") if groups else None,
            max_groups=max_groups,
            delta=delta,
        )
    if as_json:
        print_json(answer)
        return
    value: Any = answer.value
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
    out.print(f"{answer.op}: {shown}", highlight=False)
    out.print(f"ε spent {answer.epsilon:g}; lease ε left {answer.lease_epsilon_remaining:g}")


@lease_app.command("budget")
def budget(
    ctx: typer.Context, lease_id: str = typer.Argument(...), as_json: bool = JSON_OPTION
) -> None:
    """The lease's query allowance and each query's spend."""
    with client(ctx, as_json) as c:
        spent = c.lease_budget(lease_id)
    if as_json:
        print_json(spent)
        return
    rows(
        ["at", "op", "ε (micro)"],
        [[q.get("at"), q.get("op"), q.get("epsilon_micro")] for q in spent.queries],
        title=f"ε {spent.epsilon_spent:g} spent of {spent.epsilon_allowance:g}",
    )


@job_app.command("watch")
def watch(
    ctx: typer.Context,
    job_id: str = typer.Argument(...),
    timeout: float = typer.Option(3600, help="seconds to wait"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Follow a job to its end with a progress bar; exit 1 if it failed."""
    with client(ctx, as_json) as c, job_bar(f"job {job_id}", show_progress(as_json)) as on_job:
        job = c.wait_for_job(job_id, on_progress=on_job, timeout=timeout)
    if as_json:
        print_json(job)
        return
    fields(
        [
            ("job", job.id),
            ("state", job.state),
            ("rows", f"{job.rows_done:,}"),
            ("result", json.dumps(job.result) if job.result else None),
        ]
    )
