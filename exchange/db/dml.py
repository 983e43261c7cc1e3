"""What an UPDATE or DELETE did, for the conditional updates that stand in for row locks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """The rows a DML statement matched.

    ``Session.execute`` is typed to return a ``Result``, but for UPDATE and DELETE it
    is a ``CursorResult``, the only kind that carries a row count.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"a row count needs an UPDATE or DELETE result, got {type(result).__name__}")
    return result.rowcount
