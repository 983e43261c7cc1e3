"""The lease lifecycle: request, decide, pay (with the budget reservation), revoke."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from contracts import payment, refund_from_shares, split_from_escrow
from desensitize import Keyring, Policy
from desensitize.errors import BudgetExceeded
from exchange.context import Exchange
from exchange.db.dml import rowcount
from exchange.db.models import MICRO, Account, BudgetSpend, Dataset, Lease, Offer
from exchange.errors import Conflict, Forbidden, Invalid, MissingRow, NotFound
from exchange.services import governance, releases
from exchange.services import terms as terms_svc
from exchange.services.bounds import starts_at_problem
from exchange.services.datasets import TERMS_ONLY, require_policy
from exchange.services.ids import new_id
from exchange.services.lifecycle import effective_status
from exchange.services.offers import ledger_shares


@dataclass(frozen=True)
class LeaseRequest:
    offer_id: str
    purpose: str
    purpose_text: str
    columns: list[str] | None
    starts_at: datetime | None
    days: int
    epsilon: float


def now_utc() -> datetime:
    return datetime.now(UTC)


def leasable_columns(policy: Policy) -> list[str]:
    return [c for c, spec in policy.to_dict()["columns"].items() if spec.get("class") != "drop"]


def extract_epsilon(policy: Policy, columns: list[str]) -> float:
    """Record-level noise spends epsilon once per extract: the sum over its noisy columns."""
    specs = policy.to_dict()["columns"]
    return sum(
        float(specs[c].get("epsilon", 0)) for c in columns if specs[c].get("rule") == "noise"
    )


def choose_columns(policy: Policy, requested: list[str] | None) -> list[str]:
    available = leasable_columns(policy)
    if not requested:
        return available
    unknown = [c for c in requested if c not in available]
    if unknown:
        raise Invalid(
            f"columns not offered: {', '.join(unknown)}; the offer has {', '.join(available)}"
        )
    return list(dict.fromkeys(requested))


# Built once: quotes and lease requests run it on every call.
_OFFER_AND_DATASET = (
    select(Offer, Dataset)
    .outerjoin(Dataset, Dataset.id == Offer.dataset_id)
    .where(Offer.id == bindparam("offer_id"))
    .options(*TERMS_ONLY)
)


def _requested(
    session: Session, req: LeaseRequest, *, active_only: bool = False
) -> tuple[Offer, Dataset, Policy, list[str]]:
    """The offer, dataset, policy and columns a lease request refers to."""
    row = session.execute(_OFFER_AND_DATASET, {"offer_id": req.offer_id}).first()
    if row is None:
        raise NotFound(f"offer {req.offer_id} does not exist")
    offer, dataset = row
    if active_only and offer.status != "active":
        raise Conflict(f"offer {offer.id} is {offer.status}")
    if dataset is None:
        raise MissingRow("datasets", offer.dataset_id)
    policy = require_policy(dataset)
    return offer, dataset, policy, choose_columns(policy, req.columns)


def quote_request(session: Session, req: LeaseRequest) -> dict[str, Any]:
    """What the lease ``req`` would cost now, itemised; nothing is stored."""
    offer, dataset, policy, columns = _requested(session, req)
    epsilon = req.epsilon + extract_epsilon(policy, columns)
    return terms_svc.make_quote(
        offer=offer,
        dataset=dataset,
        policy=policy,
        columns=columns,
        days=req.days,
        epsilon=epsilon,
        now=now_utc(),
    )


def request_lease(session: Session, exchange: Exchange, buyer: Account, req: LeaseRequest) -> Lease:
    offer, dataset, policy, columns = _requested(session, req, active_only=True)
    governance.require_listed(session, offer)
    purpose = terms_svc.purpose(req.purpose)
    now = now_utc()
    starts = req.starts_at or now
    problem = starts_at_problem(starts, now)
    if problem:
        raise Invalid(problem)
    ends = starts + timedelta(days=req.days)
    eps_extract = extract_epsilon(policy, columns)
    decision = terms_svc.decide(
        offer=offer,
        dataset=dataset,
        purpose=purpose,
        starts_at=starts,
        ends_at=ends,
        columns=columns,
        epsilon=req.epsilon + eps_extract,
    )
    quote = terms_svc.make_quote(
        offer=offer,
        dataset=dataset,
        policy=policy,
        columns=columns,
        days=req.days,
        epsilon=req.epsilon + eps_extract,
        now=now,
    )
    # The lease is a projection of the current release; an organisation that holds an older
    # release of the dataset gets this one only if the two cannot be joined below k.
    chain = exchange.settings.approval_chain(dataset.grade)
    automatic = not chain
    reason = decision.reason
    if chain:
        reason = f"{reason}; approvals needed in order: {' → '.join(chain)}"
    release = releases.ensure_release(session, exchange, dataset, policy)
    if offer.k > (policy.k or 1):  # offers made before releases existed
        raise Conflict(
            f"offer {offer.id} promises k={offer.k} but the dataset's release is made at "
            f"k={policy.k or 1}; the provider must raise the policy's k",
            code="offer_promises_k",
        )
    releases.check_joinable(session, exchange, buyer, dataset, release)
    lease_id = new_id("lse")
    secret = lease_secret(exchange, offer, dataset, buyer)
    lease = Lease(
        id=lease_id,
        offer_id=offer.id,
        dataset_id=dataset.id,
        buyer_id=buyer.id,
        provider_id=offer.provider_id,
        purpose=purpose,
        purpose_text=req.purpose_text,
        columns=columns,
        starts_at=starts,
        ends_at=ends,
        status="approved" if automatic else "requested",
        decision_reason=reason,
        approval_chain=chain,
        price_minor=quote["total_minor"],
        quote=quote,
        agreement={},
        extract_epsilon_micro=round(eps_extract * MICRO),
        query_epsilon_micro=round(req.epsilon * MICRO),
        wrapped_key=exchange.master.wrap(secret, context=_lease_context(lease_id)),
        key_id=Keyring(secret).key_id,
        max_downloads=int(offer.terms.get("max_downloads", 3)),
        release_id=release.id,
        decided_at=now if automatic else None,
    )
    lease.agreement = terms_svc.agreement(offer=offer, dataset=dataset, lease=lease, buyer=buyer)
    session.add(lease)
    session.flush()
    exchange.log.record(
        session,
        "lease_requested",
        actor=buyer.id,
        lease=lease.id,
        dataset=dataset.id,
        offer=offer.id,
        purpose=purpose,
        starts_at=starts.isoformat(),
        ends_at=ends.isoformat(),
        price_minor=lease.price_minor,
        decision=lease.status,
    )
    return lease


def _lease_context(lease_id: str) -> bytes:
    return f"lease:{lease_id}".encode()


def lease_secret(exchange: Exchange, offer: Offer, dataset: Dataset, buyer: Account) -> bytes:
    """Per-lease keys, unless the offer lets a buyer link pseudonyms across its leases."""
    if offer.terms.get("link_across_leases"):
        return exchange.master.derive(f"link:{dataset.id}:{buyer.id}")
    return secrets.token_bytes(32)


def lease_keys(exchange: Exchange, lease: Lease) -> Keyring:
    secret = exchange.master.unwrap(lease.wrapped_key, context=_lease_context(lease.id))
    return Keyring(secret)


def get_lease(session: Session, lease_id: str, account: Account) -> Lease:
    """A lease visible to its buyer, its provider, auditors and operators only."""
    lease = session.get(Lease, lease_id)
    if lease is None:
        raise NotFound(f"lease {lease_id} does not exist")
    if account.role == "buyer" and lease.buyer_id != account.id:
        raise Forbidden(f"lease {lease_id} belongs to another buyer")
    if account.role == "provider" and lease.provider_id != account.id:
        raise Forbidden(f"lease {lease_id} is for another provider's dataset")
    return lease


def list_leases(session: Session, account: Account) -> list[Lease]:
    query = select(Lease).order_by(Lease.created_at)
    if account.role == "buyer":
        query = query.where(Lease.buyer_id == account.id)
    elif account.role == "provider":
        query = query.where(Lease.provider_id == account.id)
    return list(session.scalars(query))


def decide(
    session: Session,
    exchange: Exchange,
    account: Account,
    lease_id: str,
    *,
    approve: bool,
    reason: str,
) -> Lease:
    """The next step of the lease's approval chain (see `exchange.services.governance`)."""
    return governance.decide_step(
        session, exchange, account, lease_id, approve=approve, reason=reason
    )


def pay(session: Session, exchange: Exchange, buyer: Account, lease_id: str) -> Lease:
    """Charge the lease: reserve its epsilon on the dataset, then payment and split postings.

    The reservation is one conditional UPDATE, so concurrent payments can never push a
    dataset past its cap; if it fails, nothing is charged.
    """
    lease = get_lease(session, lease_id, buyer)
    status = effective_status(lease, now_utc())
    if status == "paid" or status == "active":
        raise Conflict(f"lease {lease.id} is already paid", code="already_paid")
    if status != "approved":
        raise Conflict(f"lease {lease.id} is {status}; only an approved lease can be paid")
    epsilon = lease.extract_epsilon_micro + lease.query_epsilon_micro
    reserve_budget(session, lease.dataset_id, epsilon)
    session.add(
        BudgetSpend(
            dataset_id=lease.dataset_id,
            lease_id=lease.id,
            kind="reservation",
            epsilon_micro=epsilon,
            detail={
                "extract": lease.extract_epsilon_micro / MICRO,
                "queries": lease.query_epsilon_micro / MICRO,
            },
        )
    )
    # Flip the status with a guard too, so two concurrent payments cannot both pass.
    flipped = session.execute(
        update(Lease)
        .where(Lease.id == lease.id, Lease.status == "approved")
        .values(status="paid", paid_at=now_utc())
    )
    if rowcount(flipped) != 1:
        raise Conflict(f"lease {lease.id} is already paid", code="already_paid")
    offer = session.get(Offer, lease.offer_id)
    if offer is None:
        raise MissingRow("offers", lease.offer_id)
    time = now_utc()
    exchange.log.post(session, payment(buyer.id, lease.price_minor, time=time, lease_id=lease.id))
    exchange.log.post(
        session,
        split_from_escrow(
            lease.price_minor,
            ledger_shares(offer.shares_bp, lease.provider_id, lease.dataset_id),
            time=time,
            lease_id=lease.id,
        ),
    )
    exchange.log.record(
        session,
        "lease_paid",
        actor=buyer.id,
        lease=lease.id,
        dataset=lease.dataset_id,
        amount_minor=lease.price_minor,
        epsilon_reserved=str(epsilon / MICRO),
    )
    session.refresh(lease)
    return lease


def reserve_budget(session: Session, dataset_id: str, epsilon_micro: int) -> None:
    if epsilon_micro == 0:
        return
    done = session.execute(
        update(Dataset)
        .where(
            Dataset.id == dataset_id,
            Dataset.epsilon_spent_micro + epsilon_micro <= Dataset.epsilon_cap_micro,
        )
        .values(epsilon_spent_micro=Dataset.epsilon_spent_micro + epsilon_micro)
    )
    if rowcount(done) != 1:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise MissingRow("datasets", dataset_id)
        session.refresh(dataset)
        remaining = (dataset.epsilon_cap_micro - dataset.epsilon_spent_micro) / MICRO
        raise BudgetExceeded(requested=epsilon_micro / MICRO, remaining=remaining)


def revoke(
    session: Session, exchange: Exchange, actor: Account, lease_id: str, reason: str
) -> Lease:
    """End a lease early; a paid lease is refunded pro rata for the unused time."""
    lease = get_lease(session, lease_id, actor)
    if actor.role not in ("provider", "operator"):
        raise Forbidden("only the dataset's provider or the operator can revoke a lease")
    now = now_utc()
    status = effective_status(lease, now)
    if status in ("revoked", "rejected", "expired"):
        raise Conflict(f"lease {lease.id} is already {status}")
    if status in ("paid", "active"):
        lease.refund_minor = refund_amount(lease, now)
        if lease.refund_minor:
            offer = session.get(Offer, lease.offer_id)
            if offer is None:
                raise MissingRow("offers", lease.offer_id)
            shares = ledger_shares(offer.shares_bp, lease.provider_id, lease.dataset_id)
            # Each party gives back its exact share of the refund, split as the payment was.
            exchange.log.post(
                session,
                refund_from_shares(
                    lease.buyer_id,
                    lease.refund_minor,
                    shares,
                    time=now,
                    lease_id=lease.id,
                    meta={"reason": "revocation, pro rata"},
                ),
            )
    lease.status = "revoked"
    lease.revoked_at = now
    exchange.log.record(
        session,
        "lease_revoked",
        actor=actor.id,
        lease=lease.id,
        dataset=lease.dataset_id,
        refund_minor=lease.refund_minor,
        reason=reason[:500],
    )
    return lease


def refund_amount(lease: Lease, now: datetime) -> int:
    """The unused share of the price, in whole fen, rounded down in the parties' favour."""
    total = int((lease.ends_at - lease.starts_at).total_seconds())
    unused = int((lease.ends_at - max(now, lease.starts_at)).total_seconds())
    if total <= 0 or unused <= 0:
        return 0
    return lease.price_minor * min(unused, total) // total
