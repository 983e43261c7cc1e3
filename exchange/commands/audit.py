"""Auditor workflow: ``audit export|verify|balances|budgets|head``."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import typer

from exchange.commands.common import (
    JSON_OPTION,
    client,
    err,
    fen,
    fields,
    out,
    print_json,
    rows,
    show_progress,
    transfer_bar,
)

audit_app = typer.Typer(help="Audit: export and verify the ledger, balances, budgets.")


@audit_app.command("export")
def export(
    ctx: typer.Context,
    out_path: Path = typer.Option(Path("ledger.jsonl"), "--out", "-o", help="where to write it"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Download the verifiable log as JSON lines (for `audit verify` or `verify-ledger`)."""
    with (
        client(ctx, as_json) as c,
        transfer_bar(f"exporting {out_path.name}", show_progress(as_json)) as progress,
    ):
        got = c.audit_export(out_path, progress=progress)
    if as_json:
        print_json(got)
        return
    fields([("file", got.path), ("bytes", f"{got.size:,}"), ("sha256", got.sha256)])


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    export_path: Path | None = typer.Argument(
        None, dir_okay=False, help="an export (default: export now and verify it)"
    ),
    public_key: str | None = typer.Option(
        None,
        "--public-key",
        help="the PEM file or 64 hex characters you trust (default: the server's own key)",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Verify the ledger offline: hashes, signed heads, balance and splits.

    Exits 0 when it verifies and 1 when it does not. Without --public-key the server's
    key is used, which proves the export is intact but not that the server is honest."""
    key: str | bytes | None = None
    if public_key is not None:
        path = Path(public_key)
        key = path.read_bytes() if path.is_file() else public_key
    with client(ctx, as_json) as c, tempfile.TemporaryDirectory() as tmp:
        source = export_path
        if source is None:
            source = Path(tmp) / "ledger.jsonl"
            c.audit_export(source)
        if key is None and not as_json:
            err.print("checking against the server's own public key (pass --public-key to pin one)")
        report = c.verify_export(source, key)
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        fields(
            [
                ("verified", "OK" if report.ok else "FAILED"),
                ("entries", f"{report.entries_checked:,}"),
                ("root", report.root_hex),
                ("first failing entry", report.first_failing_index),
                ("reason", report.reason),
            ]
        )
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("balances")
def balances(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every party's balance, derived from the ledger's postings."""
    with client(ctx, as_json) as c:
        found = c.balances()
    if as_json:
        print_json(found)
        return
    rows(
        ["account", "balance"],
        [[a, fen(b, found.currency)] for a, b in found.balances_minor.items()],
        title=f"sum {found.sum_minor}: {'balanced' if found.balanced else 'NOT balanced'}",
    )


@audit_app.command("budgets")
def budgets(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """The privacy budget cap and spending of every dataset."""
    with client(ctx, as_json) as c:
        found = c.audit_budgets()
    if as_json:
        print_json(found)
        return
    rows(
        ["dataset", "name", "ε spent", "ε cap", "within cap"],
        [
            [b.dataset_id, b.name, f"{b.epsilon_spent:g}", f"{b.epsilon_cap:g}", b.within_cap]
            for b in found
        ],
    )


@audit_app.command("head")
def head(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """The signed tree head of the verifiable log."""
    with client(ctx, as_json) as c:
        signed = c.audit_head()
    if as_json:
        print_json(signed)
        return
    out.print(f"size {signed.size}, root {signed.root}, signed {signed.time}", highlight=False)
