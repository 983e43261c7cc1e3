"""The console's calls to the exchange's own HTTP API, made in-process.

Every page acts through the API with the signed-in person's key, so the console has no
authorization of its own to get wrong: what the API refuses, the console refuses. The
call goes through the whole application (throttling, idempotency keys, error mapping)
as an ASGI request; bodies stream both ways, so an upload or an extract is never held
in memory whole (httpx's ASGITransport collects the response body before returning).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message, Scope

_END = object()  # the response body is complete


class ApiError(Exception):
    """A non-2xx answer: the status and the API's error message."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            self.message = str(error.get("message") or error.get("code") or status)
            self.code = str(error.get("code") or "")
        else:
            self.message = str(body) if body else f"HTTP {status}"
            self.code = ""
        super().__init__(f"{status}: {self.message}")


@dataclass
class ApiResponse:
    """An answer whose body is read on demand (``read``, ``json``) or streamed (``body``)."""

    status: int
    headers: dict[str, str]
    _chunks: asyncio.Queue[Any]
    _task: asyncio.Task[None]
    _done: bool = field(default=False)

    async def body(self) -> AsyncIterator[bytes]:
        try:
            while not self._done:
                chunk = await self._chunks.get()
                if chunk is _END:
                    self._done = True
                    break
                if chunk:
                    yield chunk
        finally:
            await self.aclose()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.body()])

    async def json(self) -> Any:
        raw = await self.read()
        return json.loads(raw) if raw else None

    async def aclose(self) -> None:
        """Stop the inner request, e.g. when the browser went away mid-download."""
        self._done = True
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class Api:
    """The exchange's API as one signed-in person (or anonymously) sees it."""

    def __init__(
        self,
        app: ASGIApp,
        key: str | None,
        *,
        client: tuple[str, int] | None = None,
        outer_scope: Scope | None = None,
    ) -> None:
        self.app = app
        self.key = key
        self.client = client or ("127.0.0.1", 0)
        self.state = dict((outer_scope or {}).get("state") or {})

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Start a request; the answer's status and headers once the API sent them."""
        raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        if self.key:
            raw_headers.append((b"authorization", f"Bearer {self.key}".encode("latin-1")))
        payload = b""
        if json_body is not None:
            payload = json.dumps(json_body).encode("utf-8")
            raw_headers.append((b"content-type", b"application/json"))
        if body is None:
            raw_headers.append((b"content-length", str(len(payload)).encode()))
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": raw_headers,
            "server": ("console", 80),
            "client": self.client,
            "state": dict(self.state),
        }
        chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)  # bounded: backpressure
        loop = asyncio.get_running_loop()
        started: asyncio.Future[tuple[int, dict[str, str]]] = loop.create_future()
        request_done = False
        ended = False
        response_done = asyncio.Event()
        source = body.__aiter__() if body is not None else None

        async def receive() -> Message:
            nonlocal request_done
            if request_done:
                await response_done.wait()
                return {"type": "http.disconnect"}
            if source is None:
                request_done = True
                return {"type": "http.request", "body": payload, "more_body": False}
            try:
                chunk = await source.__anext__()
            except StopAsyncIteration:
                request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                decoded = {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                }
                if not started.done():
                    started.set_result((message["status"], decoded))
            elif message["type"] == "http.response.body":
                await chunks.put(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    await end()

        async def end() -> None:
            nonlocal ended
            response_done.set()
            if not ended:
                ended = True
                await chunks.put(_END)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:  # the error handlers answer first; this is a last resort
                if not started.done():
                    started.set_exception(exc)
            finally:
                if not started.done():
                    started.set_exception(RuntimeError("the API sent no answer"))
                await end()  # a reader never waits for a body that stopped short

        task = asyncio.create_task(run())
        status, response_headers = await started
        return ApiResponse(status, response_headers, chunks, task)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a request; ApiError for anything but 2xx."""
        response = await self.send(method, path, **kwargs)
        raw = await response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        if response.status >= 300:
            raise ApiError(response.status, data)
        return data

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.call("POST", path, json_body=body, **kwargs)
