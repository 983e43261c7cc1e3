"""Changing a dataset's lifetime budget: a provider asks, an operator decides."""

from __future__ import annotations

from fastapi import APIRouter, Query

from exchange.api.deps import (
    CurrentAccount,
    ExchangeDep,
    OperatorAccount,
    ProviderAccount,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas import BudgetRequestCreate, BudgetRequestPublic, Decision
from exchange.services import budgets

router = APIRouter(prefix="/v1", tags=["budgets"])


@router.post(
    "/datasets/{dataset_id}/budget-requests",
    status_code=201,
    response_model=BudgetRequestPublic,
    summary="Ask the operator to change the dataset's lifetime epsilon (logged)",
    responses=role_errors(
        (403, "not a provider, or not the dataset's provider"),
        404,
        (409, "the dataset is not listed yet, or a request for it awaits a decision"),
        (422, "the cap asked for is the current one or below what was spent"),
    ),
)
def request_change(
    dataset_id: str,
    body: BudgetRequestCreate,
    session: SessionDep,
    provider: ProviderAccount,
    exchange: ExchangeDep,
) -> BudgetRequestPublic:
    """**Who:** the dataset's provider. Asks for a new lifetime epsilon cap with a reason;
    the cap changes only once an operator approves. Logged."""
    request = budgets.request_change(
        session, exchange, provider, dataset_id, epsilon_cap=body.epsilon_cap, reason=body.reason
    )
    session.commit()
    return BudgetRequestPublic.of(request)


@router.get(
    "/budget-requests",
    response_model=list[BudgetRequestPublic],
    summary="Budget requests: all for operators and auditors, a provider's own",
    responses=account_errors((403, "buyers see no budget requests"), 422),
)
def list_requests(
    session: ReadSessionDep,
    account: CurrentAccount,
    dataset_id: str | None = Query(None, max_length=40),
    status: str | None = Query(None, pattern="^(requested|approved|rejected)$"),
) -> list[BudgetRequestPublic]:
    """**Who:** operators and auditors see every request; a provider sees its own.
    Filter by dataset and by status (requested, approved, rejected)."""
    found = budgets.list_requests(session, account, dataset_id=dataset_id, status=status)
    return [BudgetRequestPublic.of(r) for r in found]


@router.post(
    "/budget-requests/{request_id}/approve",
    response_model=BudgetRequestPublic,
    summary="Operator: approve; the dataset's cap changes at once (logged)",
    responses=role_errors(
        404, (409, "already decided, or the dataset has spent more than the new cap"), 422
    ),
)
def approve(
    request_id: str,
    session: SessionDep,
    operator: OperatorAccount,
    exchange: ExchangeDep,
    decision: Decision | None = None,
) -> BudgetRequestPublic:
    """**Who:** operators. Approves the request: the dataset's lifetime epsilon cap
    becomes the one asked for. The optional body gives a reason; logged."""
    return _decide(session, exchange, operator, request_id, decision, approve=True)


@router.post(
    "/budget-requests/{request_id}/reject",
    response_model=BudgetRequestPublic,
    summary="Operator: reject; the cap stays (logged)",
    responses=role_errors(404, (409, "the request was already decided"), 422),
)
def reject(
    request_id: str,
    session: SessionDep,
    operator: OperatorAccount,
    exchange: ExchangeDep,
    decision: Decision | None = None,
) -> BudgetRequestPublic:
    """**Who:** operators. Rejects the request; the cap stays. The optional body gives
    a reason; logged."""
    return _decide(session, exchange, operator, request_id, decision, approve=False)


def _decide(
    session: SessionDep,
    exchange: ExchangeDep,
    operator: OperatorAccount,
    request_id: str,
    decision: Decision | None,
    *,
    approve: bool,
) -> BudgetRequestPublic:
    """Approve and reject share one body: decide, commit, show the request."""
    request = budgets.decide(
        session,
        exchange,
        operator,
        request_id,
        approve=approve,
        reason=decision.reason if decision else "",
    )
    session.commit()
    return BudgetRequestPublic.of(request)
