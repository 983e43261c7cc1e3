"""Failed-authentication throttling per client address and per API-key prefix.

A request that presents an ``Authorization`` header and is answered 401 is a failed
authentication. Failures are counted in a sliding window (``auth_failure_limit`` per
``auth_failure_window_seconds``, see :class:`exchange.settings.Settings`):

- **per client address**: once an address is over the limit, every request from it
  that presents a key is answered 429 with ``Retry-After`` before any key is looked up,
  valid keys included, until the window has room again;
- **per key prefix** (the first 8 characters, as stored next to each key's hash): once
  a prefix is over the limit, a *wrong* key with that prefix is answered 429 instead of
  401, while the valid key with that prefix still works, so knowing someone's prefix is
  not enough to lock them out.

Successful requests are never counted and never reset a count. The counters live in the
process: with several workers each worker counts its own, so a client may make up to
``workers × limit`` failures per window. The address is the one uvicorn reports; behind
a reverse proxy, run uvicorn with proxy headers trusted from that proxy only.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX_LENGTH = 8


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds for each key.

    Memory is bounded: each key keeps at most ``limit`` timestamps, and only the
    ``max_keys`` most recently used keys are remembered.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None if it is under the limit."""
        events = self._events.get(key)
        if events is None:
            return None
        now = self._clock()
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        if len(events) < self.limit:
            return None
        return events[0] + self.window - now

    def add(self, key: str) -> None:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=self.limit)
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        events.append(self._clock())

    def __len__(self) -> int:
        return len(self._events)


def _retry_after_header(seconds: float) -> bytes:
    return str(max(1, math.ceil(seconds))).encode()


class FailedAuthThrottle:
    """ASGI middleware: counts 401s to presented keys and answers 429 above the limit."""

    def __init__(self, app: ASGIApp, *, limit: int, window: float, max_keys: int = 10_000) -> None:
        self.app = app
        self.by_address = SlidingWindow(limit, window, max_keys=max_keys)
        self.by_prefix = SlidingWindow(limit, window, max_keys=max_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _presented_key(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        prefix = token[:PREFIX_LENGTH]
        wait = self.by_address.retry_after(address)
        if wait is not None:
            await _too_many(send, wait, "this address")
            return
        replaced = False

        async def watch(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.by_address.add(address)
                self.by_prefix.add(prefix)
                if (wait := self.by_prefix.retry_after(prefix)) is not None:
                    replaced = True
                    await _too_many(send, wait, "keys starting like this one")
            if not replaced:
                await send(message)

        await self.app(scope, receive, watch)


def _presented_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            return value.decode("latin-1").partition(" ")[2].strip()
    return None


async def _too_many(send: Send, wait: float, who: str) -> None:
    retry = _retry_after_header(wait)
    body = json.dumps(
        {
            "error": {
                "code": "too_many_failed_authentications",
                "message": f"too many failed authentications from {who}; "
                f"retry after {retry.decode()} s",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
