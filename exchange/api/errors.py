"""Map every domain error to a clear 4xx JSON body: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from contracts.errors import ContractError
from desensitize.dp import QueryError
from desensitize.errors import BudgetExceeded, DesensitizeError
from exchange.errors import Busy, ExchangeError
from exchange.ingest import UploadError

log = logging.getLogger("datalease")


_INVALID: dict[str, Any] = {
    "code": "invalid",
    "message": "offer_id: Field required",
    "details": [{"loc": ["body", "offer_id"], "msg": "Field required", "type": "missing"}],
}


class ErrorDetail(BaseModel):
    """A stable machine-readable code, a message safe to show, and for invalid input
    each field at fault (never the value sent)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INVALID]})

    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": _INVALID}]})

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "the request body could not be parsed",
    401: "missing or invalid API key",
    403: "wrong role, not the owner, a revoked lease or a used-up download allowance",
    404: "no such resource",
    409: "conflicts with the current state (already paid, budget exhausted, ...)",
    410: "the lease has ended",
    413: "the upload is larger than the limit",
    422: "invalid input; the message names the field or column",
    503: "the server is saturated; nothing was applied, try again after Retry-After seconds",
}
# What a saturated server asks a client to wait before trying again.
BUSY_RETRY_AFTER_SECONDS = 2
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}


def error_body(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Pydantic echoes the offending input back; that input may be personal data, so drop it.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]


_UNPARSED_BODY = "There was an error parsing the body"  # FastAPI's 400 for a body not JSON


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """Every method some route of the app takes on the request's path (asked of each route
    through `matches`, which included routers answer too)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExchangeError)
    async def _exchange(_: Request, exc: ExchangeError) -> JSONResponse:
        return error_body(exc.status_code, exc.code, exc.message)

    @app.exception_handler(UploadError)
    async def _upload(_: Request, exc: UploadError) -> JSONResponse:
        return error_body(422, "bad_upload", f"the file could not be read: {exc}")

    @app.exception_handler(BudgetExceeded)
    async def _budget(_: Request, exc: BudgetExceeded) -> JSONResponse:
        return error_body(409, "budget_exceeded", str(exc))

    @app.exception_handler(QueryError)
    async def _query(_: Request, exc: QueryError) -> JSONResponse:
        return error_body(422, "invalid_query", str(exc))

    @app.exception_handler(DesensitizeError)
    async def _desensitize(_: Request, exc: DesensitizeError) -> JSONResponse:
        return error_body(422, "invalid_policy", str(exc))

    @app.exception_handler(ContractError)
    async def _contract(_: Request, exc: ContractError) -> JSONResponse:
        return error_body(409, "contract", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        return error_body(422, "invalid", f"{where}: {first['msg']}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
            # A body that is not JSON fails validation like any other bad body: one status
            # for "the request is wrong", as the API reference documents.
            return error_body(422, "invalid", "body: the request body is not valid JSON")
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path
            # served by several routes (GET and POST /v1/accounts) takes them all.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return error_body(exc.status_code, "http", str(exc.detail), headers=headers)

    # Saturation is not a fault: no database slot or pooled connection came free in time,
    # or the SQLite write lock stayed taken past its busy timeout. Nothing was applied, so
    # the client may simply try again.
    @app.exception_handler(Busy)
    async def _saturated(request: Request, _: Busy) -> JSONResponse:
        log.warning("no database slot came free for %s %s", request.method, request.url.path)
        return _busy()

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, _: PoolTimeout) -> JSONResponse:
        log.warning("no database connection came free for %s %s", request.method, request.url.path)
        return _busy()

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if "database is locked" in str(exc.orig):
            log.warning("the write lock stayed taken for %s %s", request.method, request.url.path)
            return _busy()
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the type and route only: exception text may quote data.
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_body(500, "internal", "internal error; the request was not applied")


def _busy() -> JSONResponse:
    return error_body(
        503,
        "busy",
        "the server is busy; the request was not applied, try again",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )
