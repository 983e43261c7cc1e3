"""Dividends to data subjects: once a lease has ended (expired, or revoked and refunded), no
refund can change what its split left in the dataset's subject pool, and that amount goes
to the persons of the lease's release, exactly (``contracts.dividends``). One dividend
transaction per release; a lease is paid out once (its ``DividendPayout`` row)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts import dividend, subject_account, subject_pool_account
from contracts.dividends import PERSON_SEPARATOR, pool_amounts
from exchange.context import Exchange
from exchange.db.models import Account, Dataset, DividendPayout, Lease, LedgerEntry, Release
from exchange.errors import Conflict, MissingRow
from exchange.services import leases as lease_service
from exchange.services import releases, subjects
from exchange.services.lifecycle import effective_status

ENDED = ("expired", "revoked")
CURRENCY = "CNY"


def release_persons(exchange: Exchange, dataset: Dataset, release: Release) -> list[str]:
    """The sorted pseudonyms of the persons with a row in the release."""
    rows = releases.read(exchange, release, []).column(releases.ROW).to_numpy()
    found = np.unique(subjects.row_digests(exchange, dataset)[rows])
    return [bytes(d).hex() for d in found if bytes(d) != subjects.NULL]


def due(session: Session, now: datetime) -> dict[str, list[Lease]]:
    """Ended, paid leases of datasets with a subject column, not paid out yet, by release."""
    paid_out = select(DividendPayout.lease_id)
    candidates = session.scalars(
        select(Lease)
        .join(Dataset, Dataset.id == Lease.dataset_id)
        .where(
            Lease.paid_at.is_not(None),
            Lease.release_id.is_not(None),
            Dataset.subject_column.is_not(None),
            Lease.id.not_in(paid_out),
        )
        .order_by(Lease.created_at, Lease.id)
    )
    out: dict[str, list[Lease]] = defaultdict(list)
    for lease in candidates:
        if effective_status(lease, now) in ENDED and lease.release_id:
            out[lease.release_id].append(lease)
    return out


def sources(session: Session, pool: str, lease_ids: list[str]) -> list[dict[str, Any]]:
    """The ledger entries of these leases that moved money into or out of the pool."""
    out = []
    for body in session.scalars(
        select(LedgerEntry.body)
        .where(LedgerEntry.entry_type == "transaction", LedgerEntry.subject.in_(lease_ids))
        .order_by(LedgerEntry.index)
    ):
        entry = json.loads(body)
        if entry.get("kind") in ("split", "refund") and any(
            p.get("account") == pool for p in entry.get("postings", [])
        ):
            out.append(entry)
    return out


@dataclass(frozen=True)
class Due:
    """One release's dividend, worked out by reading only."""

    dataset_id: str
    release_id: str
    lease_ids: list[str]
    sources: list[dict[str, Any]]
    persons: list[str]


def plan(session: Session, exchange: Exchange) -> list[Due]:
    """What is due now: per release, its ended leases, their pool entries and its persons."""
    out = []
    for release_id, leases in due(session, lease_service.now_utc()).items():
        release = session.get(Release, release_id)
        dataset = session.get(Dataset, leases[0].dataset_id)
        if release is None or dataset is None:
            raise MissingRow("releases", release_id)
        pool = subject_pool_account(dataset.id)
        lease_ids = [lease.id for lease in leases]
        out.append(
            Due(
                dataset_id=dataset.id,
                release_id=release.id,
                lease_ids=lease_ids,
                sources=sources(session, pool, lease_ids),
                persons=release_persons(exchange, dataset, release),
            )
        )
    return out


def pay(
    session: Session, exchange: Exchange, operator: Account, planned: list[Due]
) -> list[dict[str, Any]]:
    """Pay each planned dividend; a lease is paid out once (a concurrent run gets 409)."""
    now = lease_service.now_utc()
    paid = []
    for item in planned:
        pool = subject_pool_account(item.dataset_id)
        amounts = pool_amounts(pool, CURRENCY, item.sources)
        try:
            with session.begin_nested():
                session.add_all(
                    DividendPayout(
                        lease_id=lease_id,
                        release_id=item.release_id,
                        pool_minor=amounts.get(lease_id, 0),
                    )
                    for lease_id in item.lease_ids
                )
                session.flush()
        except IntegrityError:
            raise Conflict(
                f"the leases of release {item.release_id} are being paid out by another "
                "dividend run",
                code="dividend_running",
            ) from None
        total = sum(amounts.values())
        if total <= 0 or not item.persons:  # nothing to pay, or no one to pay it to: kept
            continue
        tx = dividend(pool, item.release_id, item.persons, item.sources, time=now)
        index = exchange.log.post(session, tx)
        for lease_id in item.lease_ids:
            payout = session.get(DividendPayout, lease_id)
            if payout is not None:
                payout.ledger_index = index
        exchange.log.record(
            session,
            "dividend_paid",
            actor=operator.id,
            dataset=item.dataset_id,
            release=item.release_id,
            entry=index,
            leases=len(item.lease_ids),
            persons=len(item.persons),
            amount_minor=total,
        )
        paid.append(
            {
                "dataset_id": item.dataset_id,
                "release_id": item.release_id,
                "ledger_index": index,
                "leases": len(item.lease_ids),
                "persons": len(item.persons),
                "amount_minor": total,
            }
        )
    return paid


def statement(session: Session, account: Account) -> dict[str, Any]:
    """Each person's dividends (theirs, and their wards'): every payment and the total."""
    indexes = sorted(
        {
            i
            for i in session.scalars(
                select(DividendPayout.ledger_index).where(DividendPayout.ledger_index.is_not(None))
            )
            if i is not None
        }
    )
    entries = [
        (index, json.loads(body))
        for index, body in session.execute(
            select(LedgerEntry.index, LedgerEntry.body)
            .where(LedgerEntry.index.in_(indexes))
            .order_by(LedgerEntry.index)
        )
    ]
    people = []
    for person in subjects.persons(session, account):
        name = subject_account(person.hash)
        lines = []
        for index, entry in entries:
            meta = entry["meta"]
            if person.hash not in meta["persons"].split(PERSON_SEPARATOR):
                continue
            part = sum(p["amount_minor"] for p in entry["postings"] if p["account"] == name)
            lines.append(
                {
                    "ledger_index": index,
                    "time": entry["time"],
                    "release_id": meta["release_id"],
                    "dataset_id": meta["pool"].split(":", 1)[1],
                    "leases": len(meta["leases"]),
                    "pool_minor": meta["amount_minor"],
                    "persons": meta["persons"].count(PERSON_SEPARATOR) + 1,
                    "amount_minor": part,
                }
            )
        people.append(
            {
                "relation": person.relation,
                "ward_id": person.ward_id,
                "label": person.label,
                "ledger_account": name,
                "currency": CURRENCY,
                "total_minor": sum(line["amount_minor"] for line in lines),
                "dividends": lines,
            }
        )
    return {"account_id": account.id, "persons": people}
