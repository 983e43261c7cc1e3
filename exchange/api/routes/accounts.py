"""Accounts: the operator creates them; everyone can read their own."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.api.deps import (
    CurrentAccount,
    ExchangeDep,
    OperatorAccount,
    ReadSessionDep,
    SessionDep,
)
from exchange.api.openapi import account_errors, role_errors
from exchange.api.schemas import AccountCreate, AccountCreated, AccountPublic
from exchange.db.models import Account
from exchange.errors import NotFound
from exchange.services import governance
from exchange.services.accounts import create_account, issue_key, revoke_keys

router = APIRouter(prefix="/v1", tags=["accounts"])
SECRET_NOTE = (
    "The response shows the new API key once and is never stored. A retry with the same "
    "Idempotency-Key and body is not applied again: it answers 409 idempotent_secret_withheld "
    "naming the account; issue a new key if the first answer was lost."
)


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountCreated,
    summary="Create an account and its first API key (shown once)",
    description="**Who:** operators. Creates an account with one role (provider, buyer, "
    "auditor or operator), optionally an authority level (community, district, municipal) "
    "and duties (compliance, data_officer) for listing reviews and lease approvals, and "
    "its first API key; logged. " + SECRET_NOTE,
    responses=role_errors((409, "a replay of a request whose answer showed a key"), 422),
)
def create(
    body: AccountCreate, session: SessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> AccountCreated:
    level, duties = governance.check_standing(body.authority_level, body.duties)
    issued = create_account(session, name=body.name, role=body.role, organisation=body.organisation)
    issued.account.authority_level = level
    issued.account.duties = duties or None
    exchange.log.record(
        session,
        "account_created",
        actor=operator.id,
        account=issued.account.id,
        role=issued.account.role,
        **({"authority_level": level} if level else {}),
        **({"duties": duties} if duties else {}),
    )
    session.commit()
    return AccountCreated(**AccountPublic.of(issued.account).model_dump(), api_key=issued.api_key)


@router.get(
    "/me",
    response_model=AccountPublic,
    summary="The account the API key belongs to",
    responses=account_errors(),
)
def me(account: CurrentAccount) -> AccountPublic:
    """**Who:** any account. Shows whose key this is and its role."""
    return AccountPublic.of(account)


@router.get(
    "/accounts",
    response_model=list[AccountPublic],
    summary="Every account, oldest first",
    responses=role_errors(),
)
def list_accounts(session: ReadSessionDep, _: OperatorAccount) -> list[AccountPublic]:
    """**Who:** operators. Lists every account (never a key or its hash)."""
    return [
        AccountPublic.of(a) for a in session.scalars(select(Account).order_by(Account.created_at))
    ]


@router.post(
    "/accounts/{account_id}/keys",
    status_code=201,
    response_model=AccountCreated,
    summary="Issue a new API key (shown once); old keys stay valid until revoked",
    description="**Who:** operators. Issues another key for the account, e.g. to replace "
    "a lost one; logged. " + SECRET_NOTE,
    responses=role_errors(404, (409, "a replay of a request whose answer showed a key")),
)
def rotate_key(
    account_id: str, session: SessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> AccountCreated:
    account = _account(session, account_id)
    issued = issue_key(session, account)
    exchange.log.record(session, "api_key_issued", actor=operator.id, account=account.id)
    session.commit()
    return AccountCreated(**AccountPublic.of(account).model_dump(), api_key=issued.api_key)


@router.post(
    "/accounts/{account_id}/revoke-keys",
    response_model=AccountPublic,
    summary="Revoke every API key of the account",
    responses=role_errors(404),
)
def revoke_account_keys(
    account_id: str, session: SessionDep, operator: OperatorAccount, exchange: ExchangeDep
) -> AccountPublic:
    """**Who:** operators. Every key of the account stops working at once (then 401); the
    account and its history stay, and a new key may be issued. Logged."""
    account = _account(session, account_id)
    revoked = revoke_keys(session, account.id)
    exchange.log.record(
        session, "api_keys_revoked", actor=operator.id, account=account.id, keys=revoked
    )
    session.commit()
    return AccountPublic.of(account)


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id} does not exist")
    return account
