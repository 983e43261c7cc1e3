"""Governance workflow: ``offer review``, ``objection file|list|decide`` and
``transparency``; lease approval steps are ``lease approve|reject``."""

from __future__ import annotations

import typer

from exchange.client.models import Objection, Transparency
from exchange.commands.common import JSON_OPTION, client, fields, out, print_json, rows
from exchange.commands.provider import show_offer

objection_app = typer.Typer(help="Objections to listings in public disclosure.")

REASON = typer.Option(..., help="why, for the log (required)")


def review(
    ctx: typer.Context,
    offer_id: str = typer.Argument(...),
    approve: bool = typer.Option(
        ..., "--approve/--reject", help="approve into public disclosure, or reject"
    ),
    reason: str = REASON,
    as_json: bool = JSON_OPTION,
) -> None:
    """Compliance: review a new listing; approved, it is disclosed before it is listed."""
    with client(ctx, as_json) as c:
        offer = c.review_offer(offer_id, approve=approve, reason=reason)
    if as_json:
        print_json(offer)
        return
    show_offer(offer)


@objection_app.command("file")
def file(
    ctx: typer.Context,
    dataset_id: str = typer.Argument(...),
    text: str = typer.Option(..., help="what the objection is"),
    name: str = typer.Option("", help="how you sign it (never shown publicly)"),
    offer_id: str | None = typer.Option(
        None, "--offer", help="the listing (default: the dataset's latest in disclosure)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Anyone, no key needed: object to a listing during its public disclosure."""
    with client(ctx, as_json, need_key=False) as c:
        filed = c.file_objection(dataset_id, text, name=name, offer_id=offer_id)
    if as_json:
        print_json(filed)
        return
    out.print(f"objection {filed.id} to offer {filed.offer_id}: {filed.status}")


@objection_app.command("list")
def list_objections(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help="open, upheld or rejected"),
    dataset_id: str | None = typer.Option(None, "--dataset", help="one dataset's only"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Compliance, auditors and operators: objections with their words and signer."""
    with client(ctx, as_json) as c:
        found = c.list_objections(status=status, dataset_id=dataset_id)
    if as_json:
        print_json(found)
        return
    rows(
        ["id", "offer", "dataset", "status", "filed", "by", "text", "decision"],
        [
            [
                o.id,
                o.offer_id,
                o.dataset_id,
                o.status,
                f"{o.created_at:%Y-%m-%d %H:%M}",
                o.filed_by,
                o.text,
                o.decision_reason,
            ]
            for o in found
        ],
    )


@objection_app.command("decide")
def decide(
    ctx: typer.Context,
    objection_id: str = typer.Argument(...),
    uphold: bool = typer.Option(
        ..., "--uphold/--reject", help="uphold (the listing stops for good) or reject"
    ),
    reason: str = REASON,
    as_json: bool = JSON_OPTION,
) -> None:
    """Compliance: decide an open objection."""
    with client(ctx, as_json) as c:
        decided: Objection = c.decide_objection(objection_id, uphold=uphold, reason=reason)
    if as_json:
        print_json(decided)
        return
    out.print(f"objection {decided.id}: {decided.status} ({decided.decision_reason})")


def transparency(
    ctx: typer.Context, dataset_id: str = typer.Argument(...), as_json: bool = JSON_OPTION
) -> None:
    """Public, no key needed: who leases the dataset and how its listings were reviewed."""
    with client(ctx, as_json, need_key=False) as c:
        report: Transparency = c.transparency(dataset_id)
    if as_json:
        print_json(report)
        return
    fields(
        [
            ("dataset", f"{report.name} ({report.dataset_id})"),
            ("provider", report.provider),
            ("grade", report.grade),
            ("ε spent", f"{report.epsilon_spent:g} of {report.epsilon_cap:g}"),
        ]
    )
    rows(
        ["organisation", "purpose", "period", "status", "ε"],
        [
            [
                lease.get("organisation"),
                lease.get("purpose"),
                f"{str(lease.get('starts_at'))[:10]} → {str(lease.get('ends_at'))[:10]}",
                lease.get("status"),
                lease.get("epsilon"),
            ]
            for lease in report.leases
        ],
        title="leases",
    )
    rows(
        ["offer", "title", "status", "disclosed until", "objections"],
        [
            [
                listing.offer_id,
                listing.title,
                listing.status,
                (listing.disclosure_ends_at or "")[:16],
                ", ".join(f"{o.id} {o.status}" for o in listing.objections),
            ]
            for listing in report.listings
        ],
        title="listings",
    )
