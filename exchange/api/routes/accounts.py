"""Accounts: the operator creates them; everyone can read their own."""

from __future__ import annotations

from fastapi import APIRouter

from exchange.api.deps import CurrentAccount, ExchangeDep, OperatorAccount, SessionDep
from exchange.api.schemas import AccountCreate, AccountCreated, AccountPublic
from exchange.services.accounts import create_account

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/accounts", status_code=201, response_model=AccountCreated)
def create(
    body: AccountCreate, session: SessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> AccountCreated:
    issued = create_account(session, name=body.name, role=body.role, organisation=body.organisation)
    exchange.log.record(
        session,
        "account_created",
        actor=operator.id,
        account=issued.account.id,
        role=issued.account.role,
    )
    session.commit()
    return AccountCreated(**AccountPublic.of(issued.account).model_dump(), api_key=issued.api_key)


@router.get("/me", response_model=AccountPublic)
def me(account: CurrentAccount) -> AccountPublic:
    return AccountPublic.of(account)
