"""UTC datetimes in one ISO-8601 form: aware, normalised to UTC, written with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.errors import InvalidTime


def require_utc(value: datetime, what: str = "time") -> datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes and other types."""
    if not isinstance(value, datetime):
        raise InvalidTime(f"{what} must be a datetime, got {type(value).__name__}", what=what)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTime(
            f"{what} must be timezone-aware (UTC); got naive {value.isoformat()}", what=what
        )
    return value.astimezone(UTC)


def format_utc(value: datetime, what: str = "time") -> str:
    """ISO-8601 with a ``Z`` suffix, e.g. ``2025-03-01T08:00:00Z``."""
    return require_utc(value, what).isoformat().replace("+00:00", "Z")


def parse_utc(text: str, what: str = "time") -> datetime:
    """Read a time written by :func:`format_utc` (any ISO-8601 form with an offset)."""
    if not isinstance(text, str):
        raise InvalidTime(f"{what} must be an ISO-8601 string, got {text!r}", what=what)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidTime(f"{what} is not ISO-8601: {text!r}", what=what) from None
    return require_utc(parsed, what)
