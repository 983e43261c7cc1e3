"""A dataset's lifetime privacy budget: set once at listing, changed only by an operator.

The budget buyers draw on belongs to the dataset, not to an offer: the dataset's first
offer lists it and sets the cap; later offers draw on the same cap and may not change it
(a different `epsilon_cap` is refused with a 409). Changing the cap afterwards takes a
provider's request with a reason and an operator's decision, each in the verifiable log.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.dml import rowcount
from exchange.db.models import MICRO, Account, BudgetRequest, Dataset, utcnow
from exchange.errors import Conflict, Forbidden, Invalid, MissingRow, NotFound
from exchange.services.datasets import get_owned
from exchange.services.ids import new_id

STATUSES = ("requested", "approved", "rejected")


def cap_micro(epsilon: float) -> int:
    """A cap in micro-epsilon (caps are whole numbers of the unit budgets are counted in)."""
    return round(float(epsilon) * MICRO)


def _eps(micro: int) -> str:
    return f"{micro / MICRO:g}"


def draw_on(
    session: Session, exchange: Exchange, dataset: Dataset, asked: float | None, actor: Account
) -> None:
    """Check an offer's `epsilon_cap` against the dataset's budget, listing it if this is
    its first offer. Setting the cap is one guarded update, so two first offers racing
    cannot both set it."""
    if dataset.epsilon_cap_set_at is None:
        if asked is None:
            raise Invalid(
                f"epsilon_cap is required on dataset {dataset.id}'s first offer: it sets the "
                "dataset's lifetime budget, which every later offer draws on"
            )
        cap = cap_micro(asked)
        done = session.execute(
            update(Dataset)
            .where(Dataset.id == dataset.id, Dataset.epsilon_cap_set_at.is_(None))
            .values(epsilon_cap_micro=cap, epsilon_cap_set_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.refresh(dataset)
        if rowcount(done) == 1:
            exchange.log.record(
                session, "budget_set", actor=actor.id, dataset=dataset.id, epsilon_cap=_eps(cap)
            )
            return
    if asked is not None and cap_micro(asked) != dataset.epsilon_cap_micro:
        raise Conflict(
            f"dataset {dataset.id}'s lifetime budget is epsilon={_eps(dataset.epsilon_cap_micro)}"
            f", set when it was listed; an offer draws on it and cannot change it "
            f"(asked {asked:g}): leave epsilon_cap out or give {_eps(dataset.epsilon_cap_micro)}"
            f", and to change it POST /v1/datasets/{dataset.id}/budget-requests for an "
            "operator's approval",
            code="budget_fixed",
        )


def request_change(
    session: Session,
    exchange: Exchange,
    provider: Account,
    dataset_id: str,
    *,
    epsilon_cap: float,
    reason: str,
) -> BudgetRequest:
    """A provider asks to change its dataset's cap; nothing changes until an operator says so."""
    dataset = get_owned(session, dataset_id, provider)
    if dataset.epsilon_cap_set_at is None:
        raise Conflict(
            f"dataset {dataset.id} is not listed yet: its first offer's epsilon_cap sets its "
            "budget, no request needed",
            code="not_listed",
        )
    wanted = cap_micro(epsilon_cap)
    if wanted == dataset.epsilon_cap_micro:
        raise Invalid(f"epsilon_cap {epsilon_cap:g} is the dataset's cap already")
    if wanted < dataset.epsilon_spent_micro:
        raise Invalid(
            f"epsilon_cap {epsilon_cap:g} is below the {_eps(dataset.epsilon_spent_micro)} "
            "already spent on this dataset"
        )
    pending = session.scalars(
        select(BudgetRequest.id).where(
            BudgetRequest.dataset_id == dataset.id, BudgetRequest.status == "requested"
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"budget request {pending} for dataset {dataset.id} awaits an operator's decision",
            code="request_pending",
        )
    request = BudgetRequest(
        id=new_id("bgr"),
        dataset_id=dataset.id,
        provider_id=provider.id,
        epsilon_cap_micro=wanted,
        previous_cap_micro=dataset.epsilon_cap_micro,
        reason=reason,
        status="requested",
    )
    session.add(request)
    session.flush()
    exchange.log.record(
        session,
        "budget_change_requested",
        actor=provider.id,
        dataset=dataset.id,
        request=request.id,
        epsilon_cap=_eps(wanted),
        previous_cap=_eps(dataset.epsilon_cap_micro),
        reason=reason[:500],
    )
    return request


def decide(
    session: Session,
    exchange: Exchange,
    operator: Account,
    request_id: str,
    *,
    approve: bool,
    reason: str,
) -> BudgetRequest:
    """An operator approves (the cap changes at once) or rejects a pending request.

    Both steps are guarded updates: a request is decided once, and an approved cap is never
    below what was spent, even while leases reserve budget at the same time."""
    request = get_request(session, request_id, operator)
    status = "approved" if approve else "rejected"
    claimed = session.execute(
        update(BudgetRequest)
        .where(BudgetRequest.id == request.id, BudgetRequest.status == "requested")
        .values(status=status, decided_by=operator.id, decision_reason=reason, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(claimed) != 1:
        session.refresh(request)
        raise Conflict(
            f"budget request {request.id} is already {request.status}", code="already_decided"
        )
    dataset = session.get(Dataset, request.dataset_id)
    if dataset is None:
        raise MissingRow("datasets", request.dataset_id)
    if approve:
        changed = session.execute(
            update(Dataset)
            .where(
                Dataset.id == dataset.id,
                Dataset.epsilon_spent_micro <= request.epsilon_cap_micro,
            )
            .values(epsilon_cap_micro=request.epsilon_cap_micro)
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed) != 1:
            # Raising leaves the transaction uncommitted: the request stays pending.
            session.refresh(dataset)
            raise Conflict(
                f"dataset {dataset.id} has spent {_eps(dataset.epsilon_spent_micro)}, more "
                f"than the requested cap {_eps(request.epsilon_cap_micro)}: reject the request",
                code="below_spent",
            )
    session.refresh(dataset)
    session.refresh(request)
    exchange.log.record(
        session,
        f"budget_change_{status}",
        actor=operator.id,
        dataset=dataset.id,
        request=request.id,
        epsilon_cap=_eps(dataset.epsilon_cap_micro),
        previous_cap=_eps(request.previous_cap_micro),
        requested_cap=_eps(request.epsilon_cap_micro),
        reason=reason[:500],
    )
    return request


def get_request(session: Session, request_id: str, account: Account) -> BudgetRequest:
    request = session.get(BudgetRequest, request_id)
    if request is None:
        raise NotFound(f"budget request {request_id} does not exist")
    if account.role == "provider" and request.provider_id != account.id:
        raise Forbidden(f"budget request {request_id} belongs to another provider")
    return request


def list_requests(
    session: Session, account: Account, *, dataset_id: str | None, status: str | None
) -> list[BudgetRequest]:
    """Operators and auditors see every request; a provider sees its own."""
    query = select(BudgetRequest).order_by(BudgetRequest.created_at, BudgetRequest.id)
    if account.role == "provider":
        query = query.where(BudgetRequest.provider_id == account.id)
    elif account.role not in ("operator", "auditor"):
        raise Forbidden("budget requests are for providers, operators and auditors")
    if dataset_id:
        query = query.where(BudgetRequest.dataset_id == dataset_id)
    if status:
        query = query.where(BudgetRequest.status == status)
    return list(session.scalars(query))
