"""Decoded columns and contribution choices kept between DP queries, bounded in bytes.

A query touches a column or two of a table that may hold millions of rows; decrypting
and decoding them again for every query would make each answer cost a full read. Entries
are evicted least recently used once the cache holds more than its byte budget; one entry
larger than the whole budget is returned but never kept. Each process has its own cache
(it holds plaintext, so it never leaves the process) and it is safe across threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_CACHE_BYTES", "QueryCache", "size_of"]

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


def size_of(value: Any) -> int:
    """Bytes an entry holds: deep for pandas objects (strings count), ``nbytes`` for arrays."""
    if isinstance(value, pd.Series):
        return int(value.memory_usage(index=True, deep=True))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    raise TypeError(f"the query cache holds Series and arrays, not {type(value).__name__}")


class QueryCache:
    """A least-recently-used map bounded by the bytes of its values."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, value: Any) -> Any:
        size = size_of(value)
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            if size > self.max_bytes:
                return value
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value of ``key``, or ``make()`` kept (two threads may both make it)."""
        found = self.get(key)
        return found if found is not None else self.put(key, make())
