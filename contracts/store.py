"""Where ledger entries live: a small protocol the exchange backs with its database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from contracts.errors import ContractError


@runtime_checkable
class LedgerStore(Protocol):
    """Append-only storage of entry bytes, addressed by their index from 0."""

    def append(self, entry: bytes) -> int:
        """Store ``entry`` after the last one and return its index."""
        ...

    def get(self, index: int) -> bytes:
        """The entry at ``index``; raise IndexError when there is none."""
        ...

    def size(self) -> int:
        """How many entries are stored."""
        ...

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The entries from ``start`` up to ``stop`` (default: the end), in order."""
        ...


class InMemoryStore:
    """A list-backed :class:`LedgerStore` for tests, benchmarks and offline tools."""

    def __init__(self, entries: list[bytes] | None = None) -> None:
        self._entries: list[bytes] = list(entries or [])

    def append(self, entry: bytes) -> int:
        if not isinstance(entry, bytes):
            raise ContractError(f"ledger entries are bytes; got {type(entry).__name__}")
        self._entries.append(entry)
        return len(self._entries) - 1

    def get(self, index: int) -> bytes:
        if not 0 <= index < len(self._entries):
            raise IndexError(f"no ledger entry {index}; the store has {len(self._entries)}")
        return self._entries[index]

    def size(self) -> int:
        return len(self._entries)

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        return iter(self._entries[start:stop])
