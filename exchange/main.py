"""Assemble the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from exchange.api.errors import ERROR_RESPONSES, install_error_handlers
from exchange.api.idempotency import IdempotencyMiddleware
from exchange.api.routes import ROUTERS
from exchange.api.throttle import FailedAuthThrottle
from exchange.context import Exchange
from exchange.services.sweep import sweep_store
from exchange.settings import Settings


def create_app(settings: Settings | None = None, *, exchange: Exchange | None = None) -> FastAPI:
    """The exchange's HTTP API; opens (and migrates) the database on creation."""
    exchange = exchange or Exchange.open(settings or Settings())
    sweep_store(exchange)  # crash leftovers, before any request can start a new upload

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        exchange.close()

    app = FastAPI(
        title="datalease",
        version="0.1.0",
        description="Desensitize and lease smart-city data: upload, policy, offer, lease, "
        "pay and split, extract, audit.",
        lifespan=lifespan,
    )
    app.state.exchange = exchange
    app.add_middleware(IdempotencyMiddleware)
    # Added last, so outermost: a throttled request never reaches the database.
    app.add_middleware(
        FailedAuthThrottle,
        limit=exchange.settings.auth_failure_limit,
        window=exchange.settings.auth_failure_window_seconds,
        max_keys=exchange.settings.auth_failure_tracked,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: every worker process builds its own app."""
    return create_app(Settings())
