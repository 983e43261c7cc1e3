"""Request dependencies: the database session, the caller's account and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Account
from exchange.errors import Forbidden, Unauthorized
from exchange.services.accounts import authenticate

# Dependencies that do no I/O are async: they run on the event loop instead of costing a
# worker-thread round trip on every request.


async def get_exchange(request: Request) -> Exchange:
    return request.app.state.exchange


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]


def get_session(exchange: ExchangeDep) -> Iterator[Session]:
    with exchange.sessions() as session:
        yield session


async def get_read_session(exchange: ExchangeDep) -> AsyncIterator[Session]:
    # Opening a session does no I/O, and closing a read one ends a transaction that wrote
    # nothing, which is quick: both stay on the event loop, saving two thread round trips.
    session = exchange.reads()
    try:
        yield session
    finally:
        session.close()


# A session for routes that change something: on SQLite its first statement takes the
# write lock, so such a route commits as soon as its work is done. It closes before the
# response is sent, so a failed request does not hold the lock while its error goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
# A session for routes that only read: no write lock, closed before the response is sent.
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <api key> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    return token.strip()


def current_account(
    session: ReadSessionDep, token: Annotated[str, Depends(bearer_token)]
) -> Account:
    account = authenticate(session, token)
    session.commit()  # end the read transaction so handlers start clean
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def require(*roles: str) -> Callable[[Account], Awaitable[Account]]:
    """A dependency that lets only the given roles through."""

    async def check(account: CurrentAccount) -> Account:
        if account.role not in roles:
            raise Forbidden(
                f"this action needs the role {' or '.join(roles)}; "
                f"the key belongs to a {account.role}"
            )
        return account

    return check


ProviderAccount = Annotated[Account, Depends(require("provider"))]
BuyerAccount = Annotated[Account, Depends(require("buyer"))]
AuditorAccount = Annotated[Account, Depends(require("auditor", "operator"))]
OperatorAccount = Annotated[Account, Depends(require("operator"))]
