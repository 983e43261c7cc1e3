"""Provider workflow: ``dataset upload|policy|preview|list|show``, ``offer publish|list``
(``offer review`` is in :mod:`exchange.commands.governance`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from exchange.client.models import CatalogEntry, Dataset, Offer, Preview
from exchange.commands.common import (
    JSON_OPTION,
    client,
    fen,
    fields,
    out,
    print_json,
    rows,
    show_progress,
    transfer_bar,
)

dataset_app = typer.Typer(help="Datasets: upload, set the policy, preview (provider).")
offer_app = typer.Typer(help="Offers: publish a dataset's release, list them (provider).")


def _show_dataset(dataset: Dataset) -> None:
    fields(
        [
            ("id", dataset.id),
            ("name", dataset.name),
            ("file", f"{dataset.filename} ({dataset.format}, {dataset.encoding})"),
            ("rows", f"{dataset.rows:,}"),
            ("grade", dataset.grade),
            ("domain", dataset.domain),
            ("policy", dataset.policy_hash or "none yet: see `datalease dataset policy`"),
            ("epsilon", f"{dataset.epsilon_spent:g} spent of {dataset.epsilon_cap:g}"),
            ("raw sha256", dataset.raw_sha256),
        ]
    )


def _show_profile(dataset: Dataset) -> None:
    suggested = dataset.suggested_policy.get("columns", {})
    rows(
        ["column", "kind", "class", "suggested rule"],
        [
            [
                c.get("name"),
                c.get("kind"),
                c.get("classification"),
                suggested.get(c.get("name"), {}).get("rule", "drop"),
            ]
            for c in dataset.profile.get("columns", [])
        ],
        title="profile and suggested policy",
    )


@dataset_app.command("upload")
def upload(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a CSV or Parquet file"),
    name: str = typer.Option(..., help="the dataset's name"),
    grade: str | None = typer.Option(None, help="core, important or general"),
    domain: str | None = typer.Option(None, help="e.g. population, transport, health"),
    description: str | None = typer.Option(None, help="shown in the catalog"),
    encoding: str | None = typer.Option(None, help="CSV text encoding (detected when absent)"),
    delimiter: str | None = typer.Option(None, help="CSV delimiter (detected when absent)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Upload a file (streamed, encrypted at rest) and show its profile."""
    with (
        client(ctx, as_json) as c,
        transfer_bar(f"uploading {file.name}", show_progress(as_json)) as progress,
    ):
        dataset = c.upload_dataset(
            file,
            name=name,
            grade=grade,
            domain=domain,
            description=description,
            encoding=encoding,
            delimiter=delimiter,
            progress=progress,
        )
    if as_json:
        print_json(dataset)
        return
    _show_dataset(dataset)
    _show_profile(dataset)


def _read_policy(source: str) -> dict[str, Any]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    if source.endswith((".yaml", ".yml")):
        import yaml

        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise typer.BadParameter("a policy is a JSON (or YAML) object")
    return loaded


@dataset_app.command("policy")
def policy(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(...),
    source: str | None = typer.Argument(
        None, help="a JSON or YAML policy file, or - for stdin; absent: the suggested policy"
    ),
    k: int | None = typer.Option(None, help="set k in the policy"),
    show: bool = typer.Option(False, "--show", help="print the policy instead of setting it"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set the dataset's policy (the release gate may refuse it with a 422 naming columns).

    Without a file the profile's suggested policy is used; `--show` prints the policy that
    would be set, to edit and pass back as a file."""
    with client(ctx, as_json) as c:
        chosen = _read_policy(source) if source else c.get_dataset(dataset_id).suggested_policy
        if k is not None:
            chosen["k"] = k
        if show:
            print_json(chosen)
            return
        dataset = c.set_policy(dataset_id, chosen)
    if as_json:
        print_json(dataset)
        return
    out.print(f"policy set on {dataset.id}: {dataset.policy_hash}")


@dataset_app.command("preview")
def preview(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(...),
    rows_: int = typer.Option(10, "--rows", min=1, max=200, help="rows to show"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Desensitized real rows and the release's risk figures (your own dataset; logged)."""
    with client(ctx, as_json) as c:
        shown: Preview = c.preview(dataset_id, rows_)
    if as_json:
        print_json(shown)
        return
    rows(shown.columns, [[r.get(col) for col in shown.columns] for r in shown.rows])
    report = shown.report
    before, after = report.get("risk_before", {}), report.get("risk_after", {})
    rows(
        ["risk", "before", "after"],
        [[name, before.get(name), after.get(name)] for name in after if name != "class_sizes"],
        title=f"re-identification risk; rows suppressed: {report.get('rows_suppressed')}",
    )
    _show_class_sizes(before.get("class_sizes") or [], after.get("class_sizes") or [])
    for warning in shown.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _show_class_sizes(before: list[dict[str, int]], after: list[dict[str, int]]) -> None:
    """Rows per class-size bucket, before and after: the distribution behind the minimum."""
    counts: dict[int, list[str]] = {}
    for column, buckets in enumerate((before, after)):
        for b in buckets:
            counts.setdefault(b["min_size"], [str(b["min_size"]), "0", "0"])
            counts[b["min_size"]][column + 1] = f"{b['rows']:,}"
    if counts:
        rows(
            ["classes of size from", "rows before", "rows after"],
            [counts[k] for k in sorted(counts)],
            title="rows by equivalence-class size (buckets 1, 2, 3, 5, 10, 20, 50, … and k)",
        )


@dataset_app.command("list")
def list_datasets(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Your datasets (operators and auditors see all)."""
    with client(ctx, as_json) as c:
        found = c.list_datasets()
    if as_json:
        print_json(found)
        return
    rows(
        ["id", "name", "rows", "grade", "policy", "ε spent / cap"],
        [
            [d.id, d.name, f"{d.rows:,}", d.grade, (d.policy_hash or "")[:12], _eps(d)]
            for d in found
        ],
    )


def _eps(d: Dataset) -> str:
    return f"{d.epsilon_spent:g} / {d.epsilon_cap:g}"


@dataset_app.command("show")
def show_dataset(
    ctx: typer.Context, dataset_id: str = typer.Argument(...), as_json: bool = JSON_OPTION
) -> None:
    """One dataset with its profile."""
    with client(ctx, as_json) as c:
        dataset = c.get_dataset(dataset_id)
    if as_json:
        print_json(dataset)
        return
    _show_dataset(dataset)
    _show_profile(dataset)


def _shares(values: list[str]) -> dict[str, int]:
    shares: dict[str, int] = {}
    for item in values:
        party, sep, points = item.rpartition("=")
        if not sep or not party or not points.isdigit():
            raise typer.BadParameter(f"--share {item!r}: write PARTY=BASIS_POINTS")
        shares[party] = int(points)
    return shares


@offer_app.command("publish")
def publish(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(...),
    title: str = typer.Option(..., help="the catalog title"),
    purpose: list[str] = typer.Option(..., help="an allowed purpose (repeat for more)"),
    price: int = typer.Option(
        ..., help="fen per 1,000 rows per plain column (pricing.base_minor_per_1000_rows)"
    ),
    minimum: int = typer.Option(0, help="the lowest price of a lease, fen"),
    share: list[str] = typer.Option(
        ...,
        help="PARTY=BASIS_POINTS, summing to 10000 (provider, platform, subject_pool, "
        "party:NAME); repeat",
    ),
    epsilon_cap: float | None = typer.Option(
        None, help="the dataset's lifetime epsilon (required on its first offer)"
    ),
    k: int | None = typer.Option(None, help="k-anonymity of the release"),
    max_days: int = typer.Option(90, help="the longest lease"),
    max_downloads: int = typer.Option(3, help="downloads per lease"),
    territory: str = typer.Option("CN", help="where the data may be used"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish an offer of the dataset's release in the catalog."""
    terms = {
        "allowed_purposes": purpose,
        "max_period_days": max_days,
        "max_downloads": max_downloads,
        "territory": territory,
    }
    pricing = {"base_minor_per_1000_rows": price, "minimum_minor": minimum}
    with client(ctx, as_json) as c:
        offer = c.publish_offer(
            dataset_id,
            title=title,
            terms=terms,
            pricing=pricing,
            shares_bp=_shares(share),
            epsilon_cap=epsilon_cap,
            k=k,
        )
    if as_json:
        print_json(offer)
        return
    show_offer(offer)


def show_offer(offer: Offer) -> None:
    fields(
        [
            ("id", offer.id),
            ("title", offer.title),
            ("dataset", offer.dataset_id),
            ("status", offer.status),
            ("review", offer.review_status),
            (
                "disclosed until",
                f"{offer.disclosure_ends_at:%Y-%m-%d %H:%M}" if offer.disclosure_ends_at else None,
            ),
            ("k", offer.k),
            ("purposes", ", ".join(offer.terms.get("allowed_purposes", []))),
            ("price", f"{fen(offer.pricing.get('base_minor_per_1000_rows', 0))} per 1,000 rows"),
            ("shares", ", ".join(f"{p} {bp / 100:g}%" for p, bp in offer.shares_bp.items())),
        ]
    )


def _show_catalog(entries: list[CatalogEntry]) -> None:
    rows(
        ["offer", "title", "dataset", "rows", "k", "indicative price", "ε left"],
        [
            [
                e.offer_id,
                e.title,
                e.dataset_id,
                f"{e.rows:,}",
                e.k,
                fen(e.indicative_price_minor),
                f"{e.epsilon_remaining:g}",
            ]
            for e in entries
        ],
    )


@offer_app.command("list")
def list_offers(
    ctx: typer.Context,
    review_status: str | None = typer.Option(
        None, help="pending_review, disclosed, listed, rejected or stopped"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Offers in every review state: your own as a provider, all for compliance and audit
    (buyers see the catalog)."""
    with client(ctx, as_json) as c:
        if c.me().role == "buyer":
            entries = c.catalog()
            if as_json:
                print_json(entries)
            else:
                _show_catalog(entries)
            return
        found = c.list_offers(review_status)
    if as_json:
        print_json(found)
        return
    rows(
        ["offer", "title", "dataset", "k", "status", "review", "disclosed until"],
        [
            [
                o.id,
                o.title,
                o.dataset_id,
                o.k,
                o.status,
                o.review_status,
                f"{o.disclosure_ends_at:%Y-%m-%d %H:%M}" if o.disclosure_ends_at else "",
            ]
            for o in found
        ],
    )
