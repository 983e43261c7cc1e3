"""The web console at ``/console``: server-rendered pages over the exchange's own API.

``install_console(app)`` adds the pages, their static assets (plotly.js is served from
the installed ``plotly`` package, never from a CDN) and headers that keep every page's
requests on this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.console import governance_routes, routes
from exchange.console.bridge import ApiError
from exchange.console.session import COOKIE, clear_cookie

__all__ = ["install_console"]

# Scripts, styles, images and fetches from this server only; plotly.js sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)


class ConsoleHeaders:
    """Security headers on every console response (the API's own are left as they are)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/console"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not scope["path"].startswith(("/console/static", "/console/vendor")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def install_console(app: FastAPI) -> None:
    app.include_router(routes.router)
    app.include_router(governance_routes.router)
    app.mount(
        "/console/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-static",
    )

    async def sign_in_first(request: Request, _: Exception) -> Response:
        return RedirectResponse("/console", status_code=303)

    async def csrf_refused(request: Request, _: Exception) -> Response:
        return routes._public_render(
            request,
            "error.html",
            403,
            code=403,
            message="The form's security token is missing or stale: reload the page and try again.",
        )

    async def api_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401:  # the key was revoked since sign-in
            response = RedirectResponse("/console", status_code=303)
            clear_cookie(response, COOKIE)
            return response
        return routes._public_render(
            request, "error.html", exc.status, code=exc.status, message=exc.message
        )

    app.add_exception_handler(routes.SignInRequired, sign_in_first)
    app.add_exception_handler(routes.CsrfRefused, csrf_refused)
    app.add_exception_handler(ApiError, api_refused)
    app.add_middleware(ConsoleHeaders)
