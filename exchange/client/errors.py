"""Exceptions the client raises; an :class:`ApiError` carries the API's error body."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Anything the client raises on purpose."""


class ApiError(ClientError):
    """The API answered 4xx or 5xx: ``{"error": {"code", "message", "details"?}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        body: Any = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.body = body
        self.method = method
        self.path = path

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class Unauthorized(ApiError):
    """401: missing or invalid API key."""


class Forbidden(ApiError):
    """403: wrong role, not the owner, a revoked lease or no download left."""


class NotFound(ApiError):
    """404: no such resource (or not visible to this account)."""


class Conflict(ApiError):
    """409: conflicts with the current state (already paid, budget exhausted, ...)."""


class Gone(ApiError):
    """410: the lease has ended."""


class PayloadTooLarge(ApiError):
    """413: the upload passes a limit."""


class Invalid(ApiError):
    """422: invalid input; the message names the field or column."""


class Busy(ApiError):
    """429 or 503: nothing was applied; the client retried and the server stayed busy."""


class ServerError(ApiError):
    """500 and other 5xx answers."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    422: Invalid,
    429: Busy,
    503: Busy,
}


def error_class(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError


class JobFailed(ClientError):
    """The job a request started ended in ``failed``; ``job`` says why."""

    def __init__(self, job: Any) -> None:
        super().__init__(f"job {job.id} failed: {job.error}")
        self.job = job


class JobTimeout(ClientError):
    """The job was still queued or running when the client stopped waiting."""

    def __init__(self, job: Any, timeout: float) -> None:
        super().__init__(f"job {job.id} is still {job.state} after {timeout:g} s")
        self.job = job


class DownloadMismatch(ClientError):
    """The bytes received do not hash to what the server recorded for the extract."""
