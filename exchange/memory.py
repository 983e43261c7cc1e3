"""Handing memory back to the system after the large steps of one server process.

An upload, a release and an extract each pass millions of rows through in batches;
what they free stays mapped in the allocators (Arrow's mimalloc pool and glibc's heap
arenas, one per thread that did the work) unless it is handed back, and the server's
resident size then holds the largest step's high-water mark for the rest of its life,
so the next step starts from there. Large blocks are sent to their own mappings (see
desensitize.memory), and after each step what is free is returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

import pyarrow as pa

from desensitize.memory import return_large_blocks

__all__ = ["give_back", "return_large_blocks"]


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl and others have none
    except (OSError, AttributeError):
        return None
    return libc


def give_back() -> None:
    """Return the free memory of Arrow's pool and of every glibc arena to the system."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
