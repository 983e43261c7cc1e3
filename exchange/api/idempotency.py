"""Idempotency keys: a retried state-changing request is applied once.

The first request with a given ``Idempotency-Key`` claims the key (a unique row),
runs, and stores its response; a retry with the same key replays that response.
Keys are scoped to the caller's API key, so two callers cannot collide, and bound
to method and path, so reusing a key for a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.db.models import IdempotencyRecord
from exchange.services.accounts import hash_key

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = {"content-type", "location"}


def _json(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        auth = headers.get("authorization", "")
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await self._reply(
                send,
                *_json(
                    422,
                    "invalid",
                    f"Idempotency-Key must be printable and at most {MAX_KEY_LENGTH} characters",
                ),
                None,
            )
            return
        exchange = scope["app"].state.exchange
        owner = hash_key(auth.partition(" ")[2].strip()) if auth else "anonymous"
        fingerprint = hashlib.sha256(f"{scope['method']} {scope['path']}".encode()).hexdigest()
        claimed = await anyio.to_thread.run_sync(self._claim, exchange, owner, key, fingerprint)
        if isinstance(claimed, tuple):
            status, body, replayed = claimed
            await self._reply(send, status, body, replayed)
            return
        await self._run_and_store(scope, receive, send, exchange, claimed)

    def _claim(self, exchange: Any, owner: str, key: str, fingerprint: str) -> Any:
        with exchange.sessions() as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.key_owner == owner, IdempotencyRecord.key == key
                )
            )
            if existing is None:
                record = IdempotencyRecord(key_owner=owner, key=key, fingerprint=fingerprint)
                session.add(record)
                try:
                    session.commit()
                    return record.id
                except IntegrityError:
                    session.rollback()
                    return (
                        *_json(
                            409,
                            "conflict",
                            "a request with this Idempotency-Key is still in progress; retry later",
                        ),
                        None,
                    )
            if existing.fingerprint != fingerprint:
                return (
                    *_json(422, "invalid", "this Idempotency-Key was used for a different request"),
                    None,
                )
            if existing.status_code is None:
                return (
                    *_json(
                        409,
                        "conflict",
                        "a request with this Idempotency-Key is still in progress; retry later",
                    ),
                    None,
                )
            return existing.status_code, existing.body or b"", dict(existing.headers or {})

    async def _run_and_store(
        self, scope: Scope, receive: Receive, send: Send, exchange: Any, record_id: int
    ) -> None:
        status = 500
        headers: dict[str, str] = {}
        body = bytearray()
        stored = False

        async def store() -> None:
            nonlocal stored
            stored = True
            await anyio.to_thread.run_sync(
                self._store, exchange, record_id, status, headers, bytes(body)
            )

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in REPLAYED_HEADERS:
                        headers[name] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    # Record before the client sees the end, so an immediate retry replays.
                    await store()
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not stored:
                await store()

    @staticmethod
    def _store(
        exchange: Any, record_id: int, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        with exchange.sessions() as session:
            record = session.get(IdempotencyRecord, record_id)
            if record is None:
                return
            if status >= 500 or status in (401, 409, 413, 429):
                # Failures that a retry may fix release the key instead of pinning them.
                session.delete(record)
            else:
                record.status_code = status
                record.headers = headers
                record.body = body
            session.commit()

    async def _reply(
        self, send: Send, status: int, body: bytes, replayed: dict[str, str] | None
    ) -> None:
        hdrs = {"content-type": "application/json", **(replayed or {})}
        if replayed is not None:
            hdrs["idempotent-replay"] = "true"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in hdrs.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})
