"""The data rights register: holding, processing and product operation rights of a dataset
may belong to different parties, and income follows them. A provider (or the operator,
confirming rights) registers each holder with its evidence; revenue shares of new offers
must name registered holders only. Every change is a record in the verifiable log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Account, DataRight, Dataset
from exchange.errors import Conflict, Forbidden, Invalid, NotFound
from exchange.services.ids import new_id

RIGHTS = ("holding", "processing", "operation")
# Shares that are not rights in the data: the exchange's fee and the data subjects' pool.
NOT_HOLDERS = frozenset({"platform", "subject_pool"})
_PARTY = re.compile(r"party:[^:\s]{1,100}")


def _dataset(session: Session, account: Account, dataset_id: str) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    if account.role == "operator":
        return dataset
    if account.role != "provider" or dataset.provider_id != account.id:
        raise Forbidden(
            f"only the provider of dataset {dataset_id} or an operator changes its register"
        )
    return dataset


def register(
    session: Session,
    exchange: Exchange,
    account: Account,
    dataset_id: str,
    *,
    right: str,
    holder: str,
    organisation: str,
    evidence: str,
) -> DataRight:
    dataset = _dataset(session, account, dataset_id)
    if right not in RIGHTS:
        raise Invalid(f"right must be one of {', '.join(RIGHTS)}")
    if holder != "provider" and not _PARTY.fullmatch(holder):
        raise Invalid("holder must be 'provider' or 'party:<name>', as revenue shares name them")
    if not evidence.strip():
        raise Invalid("evidence must name what the right rests on, e.g. a certificate number")
    entry = DataRight(
        id=new_id("rgt"),
        dataset_id=dataset.id,
        right=right,
        holder=holder,
        organisation=organisation.strip()[:200],
        evidence=evidence.strip()[:2000],
        registered_by=account.id,
    )
    session.add(entry)
    session.flush()
    exchange.log.record(
        session,
        "right_registered",
        actor=account.id,
        dataset=dataset.id,
        right_id=entry.id,
        right=right,
        holder=holder,
        organisation=entry.organisation,
        evidence=entry.evidence[:200],
    )
    return entry


def revoke(
    session: Session,
    exchange: Exchange,
    account: Account,
    dataset_id: str,
    right_id: str,
    reason: str,
) -> DataRight:
    dataset = _dataset(session, account, dataset_id)
    entry = session.get(DataRight, right_id)
    if entry is None or entry.dataset_id != dataset.id:
        raise NotFound(f"right {right_id} is not in the register of dataset {dataset.id}")
    if entry.revoked_at is not None:
        raise Conflict(f"right {right_id} was already revoked")
    entry.revoked_at = datetime.now(UTC)
    entry.revoked_by = account.id
    entry.revoke_reason = reason.strip()[:2000]
    exchange.log.record(
        session,
        "right_revoked",
        actor=account.id,
        dataset=dataset.id,
        right_id=entry.id,
        right=entry.right,
        holder=entry.holder,
        reason=entry.revoke_reason,
    )
    return entry


def entries(session: Session, dataset_id: str) -> list[DataRight]:
    if session.get(Dataset, dataset_id) is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    return list(
        session.scalars(
            select(DataRight)
            .where(DataRight.dataset_id == dataset_id)
            .order_by(DataRight.created_at, DataRight.id)
        )
    )


def check_shares(
    session: Session, exchange: Exchange, dataset: Dataset, shares: dict[str, Any]
) -> None:
    """Refuse revenue shares naming a party that holds no registered right, once the dataset
    has a register (or its grade must have one)."""
    active = {e.holder for e in entries(session, dataset.id) if e.revoked_at is None}
    if not active and dataset.grade not in exchange.settings.rights_grades:
        return
    parties = sorted(set(shares) - NOT_HOLDERS)
    missing = [p for p in parties if p not in active]
    if missing:
        raise Conflict(
            f"shares_bp: {', '.join(missing)} hold(s) no registered right on dataset "
            f"{dataset.id}; income follows the rights register (holding, processing, "
            f"operation): register them first at /v1/datasets/{dataset.id}/rights",
            code="not_a_right_holder",
        )


def view(entry: DataRight) -> dict[str, Any]:
    return {
        "id": entry.id,
        "dataset_id": entry.dataset_id,
        "right": entry.right,
        "holder": entry.holder,
        "organisation": entry.organisation,
        "evidence": entry.evidence,
        "registered_by": entry.registered_by,
        "created_at": entry.created_at,
        "revoked_at": entry.revoked_at,
        "revoke_reason": entry.revoke_reason,
    }
