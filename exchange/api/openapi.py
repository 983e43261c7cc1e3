"""The API reference: error responses per status, the bearer security scheme, the
Idempotency-Key header, and Swagger UI and ReDoc served from the app's own assets.

Every route declares the errors it can answer with :func:`errors`; :func:`install_docs`
finishes the OpenAPI document (security, idempotency, an "Errors" list in each
description) and serves ``/docs`` and ``/redoc`` without any outside URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from exchange.api.errors import ErrorBody
from exchange.api.idempotency import MAX_KEY_LENGTH, STATE_CHANGING

# Swagger UI and ReDoc bundles, shipped by the fastapi-offline package.
ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/static/docs"
SECURITY_SCHEME = "bearerAuth"

# What each status means across the API, with a typical body.
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("the request could not be parsed", "bad_request", "the multipart body is malformed"),
    401: (
        "missing, malformed, unknown or revoked API key",
        "unauthorized",
        "missing Authorization: Bearer <api key> header",
    ),
    403: (
        "the key's role may not do this, or the object belongs to another party",
        "forbidden",
        "this action needs the role operator; the key belongs to a buyer",
    ),
    404: ("no such object", "not_found", "lease lse_b4dec8b630f2830f929d does not exist"),
    409: (
        "conflicts with the current state; or a retry with the same Idempotency-Key "
        "while the first request still runs",
        "conflict",
        "lease lse_b4dec8b630f2830f929d is already paid",
    ),
    410: ("the lease has ended", "gone", "lease lse_b4dec8b630f2830f929d ended"),
    413: (
        "larger than the operator's limit",
        "payload_too_large",
        "the upload is larger than the limit of 5000000 bytes",
    ),
    422: (
        "invalid input: the message names the field or column, never a value",
        "invalid",
        "offer_id: Field required",
    ),
    429: (
        "too many failed authentications from this address or key prefix; "
        "wait for Retry-After seconds",
        "too_many_failed_authentications",
        "too many failed authentications from this address; retry after 30 s",
    ),
    503: (
        "the server is saturated; nothing was applied, try again after Retry-After seconds",
        "busy",
        "the server is busy; the request was not applied, try again",
    ),
}
# Statuses every operation may answer, declared once for all routers.
COMMON_ERRORS = (503,)


def errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the shared error body and an example.

    A status may come as ``(status, "what it means here")`` to say more than the
    API-wide meaning, e.g. ``(409, "the lease is already paid")``.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for item in statuses:
        status, text = item if isinstance(item, tuple) else (item, _ERRORS[item][0])
        _, code, message = _ERRORS[status]
        body: dict[str, Any] = {"error": {"code": code, "message": message}}
        if status == 422:
            body["error"]["details"] = [
                {"loc": ["body", "offer_id"], "msg": "Field required", "type": "missing"}
            ]
        out[status] = {
            "model": ErrorBody,
            "description": text,
            "content": {"application/json": {"example": body}},
        }
    return out


def account_errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """Errors of a route any account may call: a bad key (401) or throttling (429)."""
    return errors(401, 429, *statuses)


def role_errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """Errors of a route for some roles only: 401, 403 for the others, 429."""
    return errors(401, 403, 429, *statuses)


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from local assets and finish the OpenAPI document."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API reference",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # No online validator badge; keep the key across reloads of the page.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _finish(generate())  # generate() caches the document it returns
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _finish(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from the operator (`POST /v1/accounts`), sent as "
        "`Authorization: Bearer dl_...`. Its account's role decides what it may do.",
    }
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            # A route that reads the Authorization header (deps.bearer_token) needs a key:
            # the header is the security scheme's, not a parameter of its own.
            keyless = [p for p in params if not _is_authorization(p)]
            if len(keyless) < len(params):
                operation["security"] = [{SECURITY_SCHEME: []}]
            changes = method.upper() in STATE_CHANGING
            has_input = bool(keyless) or "requestBody" in operation or changes
            if changes:
                keyless.append(_IDEMPOTENCY_KEY)
            if keyless:
                operation["parameters"] = keyless
            else:
                operation.pop("parameters", None)
            responses = operation.get("responses", {})
            if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                # The app answers invalid input with the shared error body, not FastAPI's;
                # a route whose only input was the key has nothing else to find invalid.
                if has_input:
                    responses["422"] = _as_openapi(errors(422)[422])
                else:
                    del responses["422"]
            operation["description"] = _with_errors(operation.get("description", ""), responses)
    _document_forms(schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in str(schema["paths"]):
            components.get("schemas", {}).pop(unused, None)


def _document_forms(schema: dict[str, Any]) -> None:
    """FastAPI's generated multipart form schemas (``Body_...``) get their operation's
    summary and example: they are components like the others, shown on their own."""
    components = schema.get("components", {}).get("schemas", {})
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            name = (form or {}).get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            if not name.startswith("Body_") or name not in components:
                continue
            component = components[name]
            component.setdefault(
                "description",
                f"The multipart form of `{method.upper()} {path}`: {operation.get('summary')}.",
            )
            if "example" in form:
                component.setdefault("examples", [form["example"]])


def _is_authorization(param: dict[str, Any]) -> bool:
    return param.get("in") == "header" and str(param.get("name", "")).lower() == "authorization"


def _as_openapi(response: dict[str, Any]) -> dict[str, Any]:
    content = response["content"]["application/json"]
    return {
        "description": response["description"],
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": content["example"],
            }
        },
    }


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "Makes a retry safe: the same key with the same request replays the "
    "first answer (header `Idempotent-Replay: true`) without applying it again; the same "
    "key with another request is a 422, and a retry while the first runs is a 409. "
    "Answers that show a new API key are never replayed (409 idempotent_secret_withheld).",
    "example": "pay-lse_b4dec8b630f2830f929d-1",
}


def _with_errors(description: str, responses: dict[str, Any]) -> str:
    failing = sorted((s, r) for s, r in responses.items() if s.isdigit() and int(s) >= 400)
    if not failing:
        return description
    lines = "\n".join(f"- `{status}`: {r.get('description', '')}" for status, r in failing)
    return f'{description.rstrip()}\n\n**Errors** (body: `{{"error": {{code, message}}}}`):\n\n{lines}\n'
