"""Governance by grade: authority levels and duties of accounts, the approval chain a lease
passes step by step, and the review and public disclosure an offer passes before the
catalog lists it. Every decision is a record in the verifiable log: who, at what level,
and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Account, Dataset, Lease, LeaseApproval, Objection, Offer
from exchange.errors import Conflict, Forbidden, Invalid, MissingRow, NotFound
from exchange.services.ids import new_id
from exchange.services.lifecycle import effective_status
from exchange.settings import AUTHORITY_LEVELS

DUTIES = ("compliance", "data_officer")
OPEN = "open"


def now_utc() -> datetime:
    return datetime.now(UTC)


# Accounts


def check_standing(
    authority_level: str | None, duties: list[str] | None
) -> tuple[str | None, list[str]]:
    """The validated authority level and duties of a new account."""
    if authority_level is not None and authority_level not in AUTHORITY_LEVELS:
        raise Invalid(f"authority_level must be one of {', '.join(AUTHORITY_LEVELS)}")
    unknown = sorted(set(duties or ()) - set(DUTIES))
    if unknown:
        raise Invalid(f"duties: unknown {', '.join(unknown)}; duties are {', '.join(DUTIES)}")
    return authority_level, sorted(set(duties or ()))


def has_duty(account: Account, duty: str) -> bool:
    return duty in (account.duties or ())


def require_compliance(account: Account) -> None:
    if not has_duty(account, "compliance"):
        raise Forbidden("only an account with the compliance duty decides listing reviews")


# Approval chains


def chain_of(lease: Lease) -> list[str]:
    if lease.approval_chain is not None:
        return list(lease.approval_chain)
    # Leases requested before chains existed needed the provider's approval only.
    return ["data_officer"] if lease.status == "requested" else []


def approvals(session: Session, lease_id: str) -> list[LeaseApproval]:
    return list(
        session.scalars(
            select(LeaseApproval)
            .where(LeaseApproval.lease_id == lease_id)
            .order_by(LeaseApproval.step)
        )
    )


def may_decide(step: str, account: Account, lease: Lease, provider: Account | None) -> bool:
    if step == "data_officer":
        if account.id == lease.provider_id:
            return True
        return (
            has_duty(account, "data_officer")
            and provider is not None
            and account.organisation == provider.organisation
        )
    return account.authority_level == step and has_duty(account, "data_officer")


def decide_step(
    session: Session,
    exchange: Exchange,
    account: Account,
    lease_id: str,
    *,
    approve: bool,
    reason: str,
) -> Lease:
    """The lease's next step, decided by ``account``: approving the last step approves the
    lease, rejecting any step rejects it. Steps are decided in order, each by another
    account."""
    lease = session.get(Lease, lease_id)
    if lease is None:
        raise NotFound(f"lease {lease_id} does not exist")
    provider = session.get(Account, lease.provider_id)
    chain = chain_of(lease)
    eligible = [i for i, step in enumerate(chain) if may_decide(step, account, lease, provider)]
    if not eligible:
        whose = (
            "is for another provider's dataset and "
            if account.role == "provider" and account.id != lease.provider_id
            else ""
        )
        raise Forbidden(
            f"lease {lease.id} {whose}needs the approval of "
            f"{' → '.join(chain) or 'no one'}; this account decides none of those steps"
        )
    now = now_utc()
    status = effective_status(lease, now)
    if status != "requested":
        raise Conflict(f"lease {lease.id} is {status}, not awaiting a decision")
    done = approvals(session, lease.id)
    current = len(done)
    if current not in eligible:
        raise Conflict(
            f"lease {lease.id} awaits step {current + 1} of {len(chain)} ({chain[current]}); "
            "steps are decided in order",
            code="approval_out_of_order",
        )
    if any(a.account_id == account.id for a in done):
        raise Conflict(
            f"this account already decided a step of lease {lease.id}; each step needs "
            "another account",
            code="approval_same_account",
        )
    level = chain[current]
    reason = reason[:2000]
    fields: dict[str, Any] = {
        "lease": lease.id,
        "dataset": lease.dataset_id,
        "step": current + 1,
        "of": len(chain),
        "level": level,
        "organisation": account.organisation,
        "authority_level": account.authority_level,
        "reason": reason,
    }
    if not approve:
        lease.status = "rejected"
        lease.decided_at = now
        lease.decision_reason = reason or f"rejected at step {current + 1} ({level})"
        exchange.log.record(session, "lease_rejected", actor=account.id, **fields)
        return lease
    session.add(
        LeaseApproval(
            lease_id=lease.id, step=current, level=level, account_id=account.id, reason=reason
        )
    )
    session.flush()  # the unique (lease, step) makes a concurrent second approval fail
    exchange.log.record(session, "lease_approval_step", actor=account.id, **fields)
    if current + 1 == len(chain):
        lease.status = "approved"
        lease.decided_at = now
        lease.decision_reason = reason or "approved by " + " → ".join(chain)
        exchange.log.record(
            session,
            "lease_approved",
            actor=account.id,
            lease=lease.id,
            dataset=lease.dataset_id,
            chain=list(chain),
        )
    return lease


def approvals_view(session: Session, lease: Lease) -> list[dict[str, Any]]:
    return [
        {
            "step": a.step + 1,
            "level": a.level,
            "account_id": a.account_id,
            "reason": a.reason,
            "time": a.created_at.isoformat(),
        }
        for a in approvals(session, lease.id)
    ]


# Listing review and disclosure


def open_objection_offers(session: Session, offer_ids: list[str] | None = None) -> set[str]:
    query = select(Objection.offer_id).where(Objection.status == OPEN)
    if offer_ids is not None:
        query = query.where(Objection.offer_id.in_(offer_ids))
    return set(session.scalars(query))


def listing_status(offer: Offer, now: datetime, objection_open: bool) -> str:
    """Stored: pending_review, disclosed, rejected, stopped, listed. A disclosed offer is
    listed once its disclosure period is over and no objection is still open."""
    if (
        offer.review_status == "disclosed"
        and offer.disclosure_ends_at is not None
        and now >= offer.disclosure_ends_at
        and not objection_open
    ):
        return "listed"
    return offer.review_status


def listed(session: Session, offers: list[Offer], now: datetime) -> set[str]:
    """The ids of those offers the catalog lists now."""
    waiting = [o.id for o in offers if o.review_status == "disclosed"]
    objected = open_objection_offers(session, waiting) if waiting else set()
    return {o.id for o in offers if listing_status(o, now, o.id in objected) == "listed"}


def require_listed(session: Session, offer: Offer) -> None:
    now = now_utc()
    status = listing_status(offer, now, bool(open_objection_offers(session, [offer.id])))
    if status == "listed":
        return
    detail = {
        "pending_review": "awaits its compliance review",
        "disclosed": "is in public disclosure"
        + (
            f" until {offer.disclosure_ends_at.isoformat()}"
            if offer.disclosure_ends_at and now < offer.disclosure_ends_at
            else " with an objection still open"
        ),
        "rejected": "was refused in its compliance review",
        "stopped": "was stopped by an upheld objection",
    }.get(status, f"is {status}")
    raise Conflict(f"offer {offer.id} {detail}; it is not listed", code="not_listed")


def submit(
    session: Session, exchange: Exchange, offer: Offer, dataset: Dataset, provider: Account
) -> None:
    """A new offer's review: by a compliance account for the grades the settings name,
    otherwise automatic (and logged as such)."""
    if dataset.grade in exchange.settings.review_grades:
        offer.review_status = "pending_review"
        return
    offer.review_status = "listed"
    offer.reviewed_at = now_utc()
    exchange.log.record(
        session,
        "listing_reviewed",
        actor=provider.id,
        offer=offer.id,
        dataset=dataset.id,
        decision="approved",
        automatic=True,
        reason=f"{dataset.grade}-grade data is reviewed automatically",
    )


def review(
    session: Session,
    exchange: Exchange,
    account: Account,
    offer_id: str,
    *,
    approve: bool,
    reason: str,
) -> Offer:
    require_compliance(account)
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"offer {offer_id} does not exist")
    if offer.review_status != "pending_review":
        raise Conflict(f"offer {offer.id} is {offer.review_status}, not awaiting a review")
    now = now_utc()
    offer.reviewed_by = account.id
    offer.reviewed_at = now
    fields: dict[str, Any] = {}
    if approve:
        offer.review_status = "disclosed"
        offer.disclosure_ends_at = now + timedelta(days=exchange.settings.disclosure_days)
        fields["disclosure_ends_at"] = offer.disclosure_ends_at.isoformat()
    else:
        offer.review_status = "rejected"
    exchange.log.record(
        session,
        "listing_reviewed",
        actor=account.id,
        offer=offer.id,
        dataset=offer.dataset_id,
        decision="approved" if approve else "rejected",
        automatic=False,
        organisation=account.organisation,
        authority_level=account.authority_level,
        reason=reason[:2000],
        **fields,
    )
    return offer


def file_objection(
    session: Session,
    exchange: Exchange,
    dataset_id: str,
    *,
    text: str,
    filed_by: str,
    offer_id: str | None,
) -> Objection:
    """Anyone may object to a listing while it is disclosed."""
    if session.get(Dataset, dataset_id) is None:
        raise NotFound(f"dataset {dataset_id} does not exist")
    if not text.strip():
        raise Invalid("text must say what the objection is")
    now = now_utc()
    query = select(Offer).where(
        Offer.dataset_id == dataset_id,
        Offer.review_status == "disclosed",
        Offer.disclosure_ends_at > now,
    )
    if offer_id is not None:
        query = query.where(Offer.id == offer_id)
    offer = session.scalars(query.order_by(Offer.created_at.desc())).first()
    if offer is None:
        raise Conflict(
            f"no listing of dataset {dataset_id}"
            + (f" by offer {offer_id}" if offer_id else "")
            + " is in its disclosure period; objections are taken only then",
            code="not_in_disclosure",
        )
    objection = Objection(
        id=new_id("obj"),
        offer_id=offer.id,
        dataset_id=dataset_id,
        filed_by=filed_by.strip()[:200],
        text=text.strip(),
        status=OPEN,
    )
    session.add(objection)
    session.flush()
    exchange.log.record(
        session,
        "objection_filed",
        actor="public",
        objection=objection.id,
        offer=offer.id,
        dataset=dataset_id,
    )
    return objection


def list_objections(
    session: Session, account: Account, *, status: str | None, dataset_id: str | None
) -> list[Objection]:
    """Objections with their words and signer, oldest first, for those who decide or audit
    them (the transparency page shows only their outcome)."""
    if account.role not in ("auditor", "operator") and not has_duty(account, "compliance"):
        raise Forbidden("objections are read by compliance accounts, auditors and operators")
    query = select(Objection).order_by(Objection.created_at, Objection.id)
    if status is not None:
        query = query.where(Objection.status == status)
    if dataset_id is not None:
        query = query.where(Objection.dataset_id == dataset_id)
    return list(session.scalars(query))


def decide_objection(
    session: Session,
    exchange: Exchange,
    account: Account,
    objection_id: str,
    *,
    uphold: bool,
    reason: str,
) -> Objection:
    """Upheld, the listing stops for good; rejected, it goes on to the catalog."""
    require_compliance(account)
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound(f"objection {objection_id} does not exist")
    if objection.status != OPEN:
        raise Conflict(f"objection {objection.id} is already {objection.status}")
    if not reason.strip():
        raise Invalid("reason must say why the objection is upheld or rejected")
    objection.status = "upheld" if uphold else "rejected"
    objection.decided_by = account.id
    objection.decided_at = now_utc()
    objection.decision_reason = reason.strip()[:2000]
    exchange.log.record(
        session,
        "objection_upheld" if uphold else "objection_rejected",
        actor=account.id,
        objection=objection.id,
        offer=objection.offer_id,
        dataset=objection.dataset_id,
        organisation=account.organisation,
        authority_level=account.authority_level,
        reason=objection.decision_reason,
    )
    if uphold:
        offer = session.get(Offer, objection.offer_id)
        if offer is None:
            raise MissingRow("offers", objection.offer_id)
        offer.review_status = "stopped"
        exchange.log.record(
            session,
            "listing_stopped",
            actor=account.id,
            offer=offer.id,
            dataset=offer.dataset_id,
            objection=objection.id,
        )
    return objection


def disclosures(session: Session, dataset_id: str, now: datetime) -> list[dict[str, Any]]:
    """The dataset's listings as the public sees them, with the objections to each (their
    outcome, never the objector's name or words)."""
    offers = list(
        session.scalars(
            select(Offer).where(Offer.dataset_id == dataset_id).order_by(Offer.created_at)
        )
    )
    objections: dict[str, list[Objection]] = {}
    for objection in session.scalars(
        select(Objection)
        .where(Objection.dataset_id == dataset_id)
        .order_by(Objection.created_at, Objection.id)
    ):
        objections.setdefault(objection.offer_id, []).append(objection)
    out = []
    for offer in offers:
        mine = objections.get(offer.id, [])
        out.append(
            {
                "offer_id": offer.id,
                "title": offer.title,
                "status": listing_status(offer, now, any(o.status == OPEN for o in mine)),
                "reviewed_at": offer.reviewed_at.isoformat() if offer.reviewed_at else None,
                "disclosure_ends_at": (
                    offer.disclosure_ends_at.isoformat() if offer.disclosure_ends_at else None
                ),
                "objections": [
                    {
                        "id": o.id,
                        "status": o.status,
                        "filed_at": o.created_at.isoformat(),
                        "decision_reason": o.decision_reason,
                    }
                    for o in mine
                ],
            }
        )
    return out
