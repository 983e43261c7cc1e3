"""What a data subject sees: which datasets and releases hold them (or their ward), which
organisations leased those releases for what purpose, and their consent withdrawals."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Account, ConsentWithdrawal, Dataset, Lease, Release
from exchange.services import consent, releases, subjects
from exchange.services.leases import now_utc
from exchange.services.lifecycle import effective_status


def overview(session: Session, exchange: Exchange, account: Account) -> dict[str, Any]:
    datasets = consent.with_subjects(session)
    rows = {d.id: subjects.row_digests(exchange, d) for d in datasets}
    people = []
    for person in subjects.persons(session, account):
        wanted = np.array([bytes.fromhex(person.hash)], dtype="S16")
        found = []
        for dataset in datasets:
            mine = np.flatnonzero(np.isin(rows[dataset.id], wanted))
            if len(mine):
                found.append(_dataset_view(session, exchange, dataset, person.hash, mine))
        people.append(
            {
                "relation": person.relation,
                "ward_id": person.ward_id,
                "label": person.label,
                "datasets": found,
            }
        )
    return {"account_id": account.id, "persons": people}


def _dataset_view(
    session: Session, exchange: Exchange, dataset: Dataset, subject_hash: str, mine: np.ndarray
) -> dict[str, Any]:
    provider = session.get(Account, dataset.provider_id)
    withdrawal = session.scalars(
        select(ConsentWithdrawal).where(
            ConsentWithdrawal.dataset_id == dataset.id,
            ConsentWithdrawal.subject_hash == subject_hash,
        )
    ).first()
    held = []
    for release in session.scalars(
        select(Release).where(Release.dataset_id == dataset.id).order_by(Release.created_at)
    ):
        positions = releases.read(exchange, release, []).column(releases.ROW).to_numpy()
        count = int(np.isin(positions, mine).sum())
        if not count:
            continue
        held.append(
            {
                "release_id": release.id,
                "made_at": release.created_at.isoformat(),
                "your_rows": count,
                "leases": _leases_of(session, release),
            }
        )
    return {
        "dataset_id": dataset.id,
        "name": dataset.name,
        "grade": dataset.grade,
        "provider": provider.organisation if provider else None,
        "your_rows": len(mine),
        "consent": (
            {"withdrawn_at": withdrawal.created_at.isoformat(), "withdrawal_id": withdrawal.id}
            if withdrawal
            else {"withdrawn_at": None, "withdrawal_id": None}
        ),
        "releases": held,
    }


def _leases_of(session: Session, release: Release) -> list[dict[str, Any]]:
    now = now_utc()
    out = []
    for lease, buyer in session.execute(
        select(Lease, Account)
        .join(Account, Account.id == Lease.buyer_id)
        .where(Lease.release_id == release.id, Lease.paid_at.is_not(None))
        .order_by(Lease.created_at)
    ):
        out.append(
            {
                "organisation": buyer.organisation,
                "purpose": lease.purpose,
                "purpose_text": lease.purpose_text,
                "columns": list(lease.columns),
                "starts_at": lease.starts_at.isoformat(),
                "ends_at": lease.ends_at.isoformat(),
                "status": effective_status(lease, now),
            }
        )
    return out
