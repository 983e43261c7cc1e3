"""Handing freed memory back to the system while a bounded-memory run goes on.

glibc serves allocations below its mmap threshold from the heap, and raises that
threshold (up to 32 MB) each time a larger block is freed. The level search and the
passes allocate and free arrays of millions of entries; once they fall under the
raised threshold, freed arrays stay in the heap, fragmented, and the resident size
ratchets up by hundreds of megabytes over a run. A fixed 1 MB threshold sends every
large array to its own mapping, which is returned whole when it is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

__all__ = ["return_large_blocks"]

_M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
THRESHOLD = 1 << 20


@cache
def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold for this process (once); False where that is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
