"""The errors an unreadable or oversized upload raises."""

from __future__ import annotations

__all__ = ["UploadError", "UploadTooLarge"]


class UploadError(ValueError):
    """An upload cannot be read.

    ``problem`` is safe to show to the uploader and to log: it names columns and
    line numbers, never cell values. ``line`` is the 1-based line number if known.
    """

    def __init__(self, problem: str, *, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class UploadTooLarge(UploadError):
    """An upload expands beyond a limit on rows or decoded bytes (a 413, not a 422)."""
