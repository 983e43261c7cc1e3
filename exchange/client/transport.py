"""Sending requests: retries with idempotency keys, streamed multipart bodies, error bodies.

A state-changing request carries an ``Idempotency-Key`` the client makes once per call and
sends again on every retry, so the server applies it at most once (exchange.api.idempotency):
a payment whose answer was lost is retried without paying twice. The body is resent byte
for byte, multipart boundary included, because the key is bound to the body's hash.
"""

from __future__ import annotations

import io
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from exchange.client.errors import ApiError, error_class

# (bytes done, bytes in all or None when unknown)
Progress = Callable[[int, int | None], None]
CHUNK = 1 << 20
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Answers after which nothing was applied and the same request may simply be sent again.
RETRY_STATUSES = {429, 502, 503, 504}
# 409 codes that mean "the first attempt is still running / released its key": try again.
RETRY_CONFLICTS = {"idempotency_in_progress"}
MAX_RETRY_AFTER = 30.0


@dataclass
class RetryPolicy:
    attempts: int = 4  # in all, the first one included
    backoff: float = 0.5  # seconds before the second attempt, doubled after each
    max_wait: float = MAX_RETRY_AFTER

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        hinted = _retry_after(response) if response is not None else None
        if hinted is not None:
            return min(hinted, self.max_wait)
        return min(self.backoff * (2**attempt), self.max_wait)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def raise_for_error(response: httpx.Response) -> None:
    """Raise the :class:`ApiError` for a 4xx/5xx answer, carrying the API's error body."""
    if response.status_code < 400:
        return
    if not response.is_closed:
        response.read()
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text[:2000]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "http"))
        message = str(error.get("message", ""))
        details = error.get("details")
    else:
        code, message, details = "http", response.reason_phrase or "error", None
    request = response.request
    raise error_class(response.status_code)(
        response.status_code,
        code,
        message,
        details=details if isinstance(details, list) else None,
        body=body,
        method=request.method,
        path=request.url.path,
    )


def _retryable(response: httpx.Response) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    if response.status_code == 409:
        response.read()
        try:
            code = response.json().get("error", {}).get("code")
        except (ValueError, AttributeError):
            return False
        return code in RETRY_CONFLICTS
    return False


# --- a body that can be sent again ------------------------------------------------------


class Body:
    """A request body that can be produced again for a retry, with optional progress."""

    def __init__(
        self,
        parts: list[bytes | Source],
        content_type: str,
        progress: Progress | None = None,
    ) -> None:
        self.parts = parts
        self.content_type = content_type
        self.progress = progress
        sizes = [len(p) if isinstance(p, bytes) else p.size for p in parts]
        self.length = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    @property
    def replayable(self) -> bool:
        return all(isinstance(p, bytes) or p.replayable for p in self.parts)

    def headers(self) -> dict[str, str]:
        out = {"content-type": self.content_type}
        if self.length is not None:
            out["content-length"] = str(self.length)
        return out

    def chunks(self) -> Iterator[bytes]:
        done = 0
        if self.progress is not None:
            self.progress(0, self.length)
        for part in self.parts:
            pieces = [part] if isinstance(part, bytes) else part.chunks()
            for piece in pieces:
                done += len(piece)
                yield piece
                if self.progress is not None:
                    self.progress(done, self.length)


class Source:
    """A file to send: a path (opened per attempt), bytes, or an open binary file."""

    def __init__(self, data: str | os.PathLike[str] | bytes | IO[bytes]) -> None:
        self._path: Path | None = None
        self._bytes: bytes | None = None
        self._file: IO[bytes] | None = None
        self._start = 0
        self.size: int | None
        if isinstance(data, bytes | bytearray | memoryview):
            self._bytes = bytes(data)
            self.size = len(self._bytes)
            self.name = "upload"
        elif isinstance(data, str | os.PathLike):
            self._path = Path(data)
            self.size = self._path.stat().st_size
            self.name = self._path.name
        else:
            self._file = data
            self.name = Path(str(getattr(data, "name", "upload"))).name
            self.size = None
            if _seekable(data):
                self._start = data.tell()
                self.size = data.seek(0, io.SEEK_END) - self._start
                data.seek(self._start)
        self._sent = False

    @property
    def replayable(self) -> bool:
        return self._file is None or _seekable(self._file)

    def chunks(self) -> Iterator[bytes]:
        if self._bytes is not None:
            for i in range(0, len(self._bytes), CHUNK):
                yield self._bytes[i : i + CHUNK]
            return
        if self._path is not None:
            with self._path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
            return
        if self._file is None:
            raise RuntimeError("an upload source holds a path, bytes or a file")
        if _seekable(self._file):
            self._file.seek(self._start)
        elif self._sent:
            raise RuntimeError("the upload stream was consumed and cannot be sent again")
        self._sent = True
        while chunk := self._file.read(CHUNK):
            yield chunk


def _seekable(fh: IO[bytes]) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _quote(value: str) -> str:
    # As browsers and httpx do (HTML5 form encoding): a quote in a name cannot end it.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")


def multipart(
    fields: dict[str, str],
    file_field: str,
    source: Source,
    *,
    filename: str,
    media_type: str,
    progress: Progress | None = None,
) -> Body:
    """A multipart/form-data body with one boundary for all its attempts."""
    boundary = f"datalease-{secrets.token_hex(16)}"
    parts: list[bytes | Source] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    parts.append(
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_quote(file_field)}\"; "
            f'filename="{_quote(filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
        ).encode()
    )
    parts.append(source)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return Body(parts, f"multipart/form-data; boundary={boundary}", progress)


# --- the sender ---------------------------------------------------------------------------


class Sender:
    """One httpx client, the API key, and the retry loop every call goes through."""

    def __init__(
        self,
        http: httpx.Client,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.retry = retry
        self.sleep = sleep

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        body: Body | None = None,
        idempotency_key: str | None = None,
        stream: bool = False,
        check: bool = True,
    ) -> httpx.Response:
        """The response to the request, after retries; raises :class:`ApiError` on 4xx/5xx
        when ``check``. A ``stream`` response is open: the caller closes it."""
        headers: dict[str, str] = {}
        if method in STATE_CHANGING:
            headers["idempotency-key"] = idempotency_key or new_idempotency_key()
        if body is not None:
            headers.update(body.headers())
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempts = self.retry.attempts if body is None or body.replayable else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            request = self.http.build_request(
                method,
                path,
                params=params,
                json=json,
                content=body.chunks() if body is not None else None,
                headers=headers,
            )
            try:
                response = self.http.send(request, stream=True)
            except (httpx.TransportError, httpx.TimeoutException):
                if last:
                    raise
                self.sleep(self.retry.wait(attempt, None))
                continue
            if not last and _retryable(response):
                response.close()
                self.sleep(self.retry.wait(attempt, response))
                continue
            if check and response.status_code >= 400:
                try:
                    raise_for_error(response)
                finally:
                    response.close()
            if not stream:
                try:
                    response.read()
                finally:
                    response.close()
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")


__all__ = [
    "ApiError",
    "Body",
    "Progress",
    "RetryPolicy",
    "Sender",
    "Source",
    "multipart",
    "new_idempotency_key",
    "raise_for_error",
]
