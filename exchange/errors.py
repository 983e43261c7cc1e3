"""Service errors: each carries its HTTP status and a message safe to show to the caller.

Messages name fields, columns and identifiers, never cell values: a raw value in
an error would leak exactly what the exchange exists to protect.
"""

from __future__ import annotations


class ExchangeError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Unauthorized(ExchangeError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ExchangeError):
    status_code = 403
    code = "forbidden"


class NotFound(ExchangeError):
    status_code = 404
    code = "not_found"


class Conflict(ExchangeError):
    status_code = 409
    code = "conflict"


class Gone(ExchangeError):
    status_code = 410
    code = "gone"


class PayloadTooLarge(ExchangeError):
    status_code = 413
    code = "payload_too_large"


class Invalid(ExchangeError):
    status_code = 422
    code = "invalid"


class MissingRow(RuntimeError):
    """A stored row refers to one that is not there: the database is inconsistent.

    Not an ExchangeError: it is the exchange's fault, never the caller's, so it takes
    the unexpected-error path (logged, 500) rather than being explained to the caller.
    """

    def __init__(self, table: str, key: object) -> None:
        super().__init__(f"{table} row {key!r} is missing though a stored row refers to it")
        self.table = table
        self.key = key


class Busy(ExchangeError):
    """The server is saturated; nothing was applied and the request may be sent again."""

    status_code = 503
    code = "busy"
