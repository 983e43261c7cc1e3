"""Idempotency keys: a retried state-changing request is applied once.

As in the IETF ``Idempotency-Key`` header draft and Stripe's API:

- A key is scoped to the caller's API key (two callers cannot collide) and bound to a
  fingerprint of the request: method, path, query string, the caller and an HMAC-SHA256
  of the body bytes under a key derived from the master key. The first request with a key claims it (a unique row), runs, and its
  response is stored under that fingerprint.
- A retry with the same key and the same fingerprint replays the stored response
  (``Idempotent-Replay: true``) without running again.
- The same key with another request (another body, path or method) is refused with
  422 ``idempotency_key_reused`` and nothing is applied. The fingerprint covers the
  exact bytes: a retry must resend the same body (a multipart client that picks a new
  boundary per call must resend the prepared request, not rebuild it).
- While the first request runs, a retry gets 409 ``idempotency_in_progress``.
- Answers a retry may fix (401, 409, 413, 429 and 5xx) release the key instead of
  being stored.
- **Responses that carry a secret are never stored.** Creating an account and issuing
  an API key (``SECRET_ROUTES``; also any response marked ``Cache-Control: no-store``)
  store only a marker with the new account's id. A replay of such a request answers
  409 ``idempotent_secret_withheld``, naming the account: the request was applied once,
  and a lost key is replaced by issuing a new one, never by showing the old one again.

Bodies are hashed as they stream through, so memory stays bounded whatever their size.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.db.models import IdempotencyRecord
from exchange.services.accounts import hash_key

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = {"content-type", "location"}
# Answers a retry may fix: the key is released rather than pinned to them.
RETRYABLE = {401, 409, 413, 429}
# Routes whose response shows a secret exactly once (a new API key).
SECRET_ROUTES = [
    ("POST", re.compile(r"/v1/accounts/?")),
    ("POST", re.compile(r"/v1/accounts/[^/]+/keys/?")),
    ("POST", re.compile(r"/v1/subjects/?")),
]
SECRET_MARKER = "secret_withheld"
BODY_KEY_LABEL = "idempotency-body"  # the master key's derived key for body fingerprints
# A response may finish before the app read its whole body; reading the rest to finish the
# fingerprint stops after this many bytes past the upload limit (the key is then released).
DRAIN_SLACK = 1 << 20


def _json(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode()


IN_PROGRESS = _json(
    409,
    "idempotency_in_progress",
    "a request with this Idempotency-Key is still in progress; retry later",
)
RELEASED = "a request with this Idempotency-Key failed and released the key; send it again"
REUSED = _json(
    422,
    "idempotency_key_reused",
    "this Idempotency-Key was used for a different request (method, path or body); "
    "use a new key for a new request",
)


def carries_secret(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in SECRET_ROUTES)


class _BodyHash:
    """Hashes the request body as the app (or a final drain) reads it, under a key: a body
    may hold a resident ID number (registering a data subject), and an unkeyed hash of a
    number with so few possible values could be reversed by trying them all."""

    def __init__(self, receive: Receive, key: bytes) -> None:
        self._receive = receive
        self.digest = hmac.new(key, digestmod=hashlib.sha256)
        self.size = 0
        self.complete = False
        self.disconnected = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.digest.update(chunk)
            self.size += len(chunk)
            if not message.get("more_body", False):
                self.complete = True
        elif message["type"] == "http.disconnect":
            self.disconnected = True
        return message

    async def drain(self, limit: int) -> bool:
        """Read what the app left unread; False if the body could not be read to its end."""
        while not self.complete and not self.disconnected:
            if self.size > limit:
                return False
            await self.receive()
        return self.complete

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def fingerprint(scope: Scope, owner: str, body_mac: str) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    line = f"{scope['method']} {scope['path']}?{query}\n{owner}\n{body_mac}"
    return hashlib.sha256(line.encode()).hexdigest()


def _routed(scope: Scope) -> bool:
    """True if one of the app's routes takes this method on this path."""
    return any(route.matches(scope)[0] is Match.FULL for route in scope["app"].router.routes)


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
        if not key or not _routed(scope):
            # A path or method the API does not have gets its 404 or 405, key or not.
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            message = f"Idempotency-Key must be printable and at most {MAX_KEY_LENGTH} characters"
            await self._reply(send, *_json(422, "invalid", message), None)
            return
        exchange = scope["app"].state.exchange
        owner = hash_key(auth.partition(" ")[2].strip()) if auth else "anonymous"
        body = _BodyHash(receive, exchange.master.derive(BODY_KEY_LABEL))
        drain_limit = exchange.settings.max_upload_bytes + DRAIN_SLACK
        claimed = await anyio.to_thread.run_sync(self._claim, exchange, owner, key)
        if claimed is None:  # known key: compare the whole body before answering
            if not await body.drain(drain_limit):
                return  # the client went away or sent more than any request may carry
            answer = await anyio.to_thread.run_sync(
                self._answer, exchange, owner, key, fingerprint(scope, owner, body.hexdigest())
            )
            await self._reply(send, *answer)
            return
        if isinstance(claimed, tuple):
            await self._reply(send, *claimed, None)
            return
        secret = carries_secret(scope["method"], scope["path"])
        await self._run_and_store(scope, body, send, exchange, claimed, owner, secret, drain_limit)

    def _claim(self, exchange: Any, owner: str, key: str) -> int | tuple[int, bytes] | None:
        """The new record's id; None if the key is known; an answer if it is still running."""
        with exchange.sessions() as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.key_owner == owner, IdempotencyRecord.key == key
                )
            )
            if existing is not None:
                return IN_PROGRESS if existing.status_code is None else None
            # The fingerprint is known once the body has streamed through; until then the
            # record is "in progress" and its fingerprint is never compared.
            record = IdempotencyRecord(key_owner=owner, key=key, fingerprint="")
            session.add(record)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return IN_PROGRESS
            return record.id

    def _answer(
        self, exchange: Any, owner: str, key: str, print_: str
    ) -> tuple[int, bytes, dict[str, str] | None]:
        with exchange.reads() as session:
            existing = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.key_owner == owner, IdempotencyRecord.key == key
                )
            )
            if existing is None:  # released meanwhile (a retryable failure): retry afresh
                return (
                    *_json(409, "idempotency_released", RELEASED),
                    None,
                )
            if existing.status_code is None:
                return (*IN_PROGRESS, None)
            if existing.fingerprint != print_:
                return (*REUSED, None)
            headers = dict(existing.headers or {})
            if headers.get(SECRET_MARKER):
                return (*_withheld(existing.body or b""), None)
            return existing.status_code, existing.body or b"", headers

    async def _run_and_store(
        self,
        scope: Scope,
        body: _BodyHash,
        send: Send,
        exchange: Any,
        record_id: int,
        owner: str,
        secret: bool,
        drain_limit: int,
    ) -> None:
        status = 500
        headers: dict[str, str] = {}
        response = bytearray()
        stored = False

        async def store() -> None:
            nonlocal stored
            stored = True
            keep = status < 500 and status not in RETRYABLE and await body.drain(drain_limit)
            print_ = fingerprint(scope, owner, body.hexdigest()) if keep else ""
            no_store = headers.pop("cache-control", "") == "no-store"
            withhold = (secret or no_store) and 200 <= status < 300
            await anyio.to_thread.run_sync(
                self._store, exchange, record_id, status, headers, bytes(response), print_, withhold
            )

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in REPLAYED_HEADERS or name == "cache-control":
                        headers[name] = v.decode("latin-1")
                if secret:
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"cache-control", b"no-store")],
                    }
            elif message["type"] == "http.response.body":
                response.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    # Record before the client sees the end, so an immediate retry replays.
                    await store()
            await send(message)

        try:
            await self.app(scope, body.receive, capture)
        finally:
            if not stored:
                await store()

    @staticmethod
    def _store(
        exchange: Any,
        record_id: int,
        status: int,
        headers: dict[str, str],
        body: bytes,
        print_: str,
        withhold: bool,
    ) -> None:
        with exchange.sessions() as session:
            record = session.get(IdempotencyRecord, record_id)
            if record is None:
                return
            if not print_:
                session.delete(record)  # release the key: a retry runs afresh
            else:
                record.status_code = status
                record.fingerprint = print_
                if withhold:
                    record.headers = {SECRET_MARKER: "true"}
                    record.body = _marker(body)
                else:
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


def _marker(body: bytes) -> bytes:
    """What is kept of a response that carried a secret: the created resource's id only."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    resource = parsed.get("id") if isinstance(parsed, dict) else None
    return json.dumps({"id": resource if isinstance(resource, str) else None}).encode()


def _withheld(marker: bytes) -> tuple[int, bytes]:
    resource = json.loads(marker or b"{}").get("id")
    applied = f"it created or updated {resource}" if resource else "it was applied"
    return _json(
        409,
        "idempotent_secret_withheld",
        f"a request with this Idempotency-Key was already applied ({applied}); its response "
        "carried an API key, which is shown once and never stored: issue a new key with "
        "POST /v1/accounts/{id}/keys",
    )
