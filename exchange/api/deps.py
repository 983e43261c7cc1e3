"""Request dependencies: the database session, the caller's account and role checks."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Account
from exchange.errors import Busy, Forbidden, Unauthorized
from exchange.services.accounts import authenticate

# Dependencies that do no I/O, or one short indexed read (the key lookup), are async: they
# run on the event loop instead of costing a worker-thread round trip on every request.


async def get_exchange(request: Request) -> Exchange:
    return request.app.state.exchange


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]


class DatabaseSlots:
    """How many requests of one process may hold database sessions at once; the rest wait
    their turn on the event loop.

    A session dependency's teardown runs only after a sync handler's answer is serialised,
    which waits for a worker thread of its own, so a request keeps its pooled connection
    while it waits for a thread. Unbounded, a burst lets more such requests hold
    connections than the pool has, while every worker thread waits for a connection: the
    pool times out and nothing moves. With no more requests holding sessions than this,
    and a pool sized for them (exchange.db.session), a thread always gets a connection.
    Waiting here costs no thread and no connection; past ``wait_seconds`` the request is
    answered 503 with Retry-After instead.
    """

    def __init__(self, size: int, wait_seconds: float) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        # asyncio's semaphores belong to one event loop; a server has one per process,
        # test clients may run one per thread.
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._by_loop = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            semaphore = self._by_loop.get(loop)
            if semaphore is None:
                semaphore = self._by_loop[loop] = asyncio.Semaphore(self.size)
            return semaphore

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        semaphore = self._semaphore()
        if not semaphore.locked():
            await semaphore.acquire()  # free: no timer (wait_for costs a task per call)
        else:
            try:
                await asyncio.wait_for(semaphore.acquire(), self.wait_seconds)
            except TimeoutError:
                raise Busy("every database slot stayed taken") from None
        try:
            yield
        finally:
            semaphore.release()


_SLOTS_LOCK = threading.Lock()


def _slots(request: Request, exchange: Exchange) -> DatabaseSlots:
    state = request.app.state
    slots = getattr(state, "database_slots", None)
    if slots is None:
        with _SLOTS_LOCK:
            slots = getattr(state, "database_slots", None)
            if slots is None:
                settings = exchange.settings
                slots = DatabaseSlots(settings.db_requests, settings.db_wait_seconds)
                state.database_slots = slots
    return slots


async def database_slot(request: Request, exchange: ExchangeDep) -> AsyncIterator[None]:
    """One slot per request (FastAPI solves it once however many sessions it has)."""
    async with _slots(request, exchange).hold():
        yield


DatabaseSlot = Annotated[None, Depends(database_slot, scope="function")]


# Opening a session does no I/O, nor does closing one whose handler committed; closing one
# with an open transaction rolls back a transaction that did no harm (a read, or writes a
# failed handler never committed), which is quick. So both stay on the event loop and cost
# no worker-thread round trip.


async def get_session(exchange: ExchangeDep, _: DatabaseSlot) -> AsyncIterator[Session]:
    session = exchange.sessions()
    try:
        yield session
    finally:
        session.close()


async def get_read_session(exchange: ExchangeDep, _: DatabaseSlot) -> AsyncIterator[Session]:
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


async def current_account(
    session: ReadSessionDep, token: Annotated[str, Depends(bearer_token)]
) -> Account:
    # The read transaction goes on into the handler, which reads in the same snapshot: no
    # second BEGIN and pool checkout per request. A route that writes does so in its own
    # session; its read session is closed with the request's others.
    # The lookup runs on the event loop: it is one indexed read, and a worker-thread round
    # trip cost more than the query (catalog at 50 concurrent: a third of its throughput).
    # It cannot wait for a connection there: the request holds a database slot, and the
    # pool has one for every slot (see DatabaseSlots).
    return authenticate(session, token)


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
