"""Assemble the FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from exchange.api.errors import install_error_handlers
from exchange.api.idempotency import IdempotencyMiddleware
from exchange.api.openapi import COMMON_ERRORS, errors, install_docs
from exchange.api.routes import ROUTERS
from exchange.api.throttle import FailedAuthThrottle
from exchange.console import install_console
from exchange.context import Exchange
from exchange.jobs import JobWorkers
from exchange.services import extracts
from exchange.services.sweep import sweep_store
from exchange.settings import Settings


def create_app(settings: Settings | None = None, *, exchange: Exchange | None = None) -> FastAPI:
    """The exchange's HTTP API; opens (and migrates) the database on creation."""
    exchange = exchange or Exchange.open(settings or Settings())
    sweep_store(exchange)  # crash leftovers, before any request can start a new upload

    # Started with the application, not on creation: `datalease serve` creates an app once
    # (to migrate) before the workers fork, and that one must run no jobs.
    workers = JobWorkers(exchange, {extracts.JOB_KIND: extracts.run_job})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers.start()
        # The modules and objects loaded by now (pandas, Arrow, SQLAlchemy, the app) live as
        # long as the process. Frozen, the collector's full passes skip them: unfrozen, each
        # pass walked them all while every request in flight waited (a tenth of a second).
        gc.collect()
        gc.freeze()
        yield
        workers.stop()
        exchange.close()

    app = FastAPI(
        title="datalease",
        version="0.1.0",
        description="Desensitize and lease smart-city data: upload, policy, offer, lease, "
        "pay and split, extract, audit.\n\n"
        "Every request but the public ones carries an API key: `Authorization: Bearer "
        "dl_...` (the Authorize button). Errors have one body: "
        '`{"error": {"code": "...", "message": "..."}}`. Amounts are in fen (minor units).',
        lifespan=lifespan,
        # Served from the app's own assets by install_docs: no CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.exchange = exchange
    app.state.jobs = workers
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
        app.include_router(router, responses=errors(*COMMON_ERRORS))
    install_docs(app)
    install_console(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: every worker process builds its own app."""
    return create_app(Settings())
