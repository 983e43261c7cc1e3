"""E-mail masks made on the bytes of an Arrow string array, for the release gate's survey.

The gate renders every e-mail of a table to its level-0 mask (`****@domain`) before it
can count anything, so on a million rows this mask sits on the critical path. Arrow's
kernels take five passes over the strings (count the '@', split, pick each part, join);
here each row becomes one row of a byte matrix laid out as [first character][mask][domain],
and a mask of the bytes each row keeps gives the output buffer in one boolean gather.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["email_masked_bytes"]

_AT, _STAR = ord("@"), ord("*")
_FIRST = 4  # bytes of the longest UTF-8 character
_MIDDLE = 5  # '***@' after a kept first character, '****@' without one
LONGEST_DOMAIN = 64  # longer domains (rare) take Arrow's path


def email_masked_bytes(text: pa.Array, *, keep_first: bool) -> pa.Array | None:
    """`first***@domain` (or `****@domain` without `keep_first`) for values with one '@',
    a character before it and one after it, else '****': what `mask._email_masked` makes,
    or None where this path does not apply (nulls, offsets past 32 bits, a domain longer
    than `LONGEST_DOMAIN` bytes)."""
    n = len(text)
    buffers = text.buffers()
    if not pa.types.is_string(text.type) or text.null_count or not n or buffers[2] is None:
        return None
    offsets = np.frombuffer(buffers[1], np.int32, n + 1, text.offset * 4).astype(np.int64)
    low, high = int(offsets[0]), int(offsets[-1])
    if high - low + 9 * n >= np.iinfo(np.int32).max:
        return None
    data = np.frombuffer(buffers[2], np.uint8)[low:high]
    start, end = offsets[:-1] - low, offsets[1:] - low

    ats = np.flatnonzero(data == _AT)
    row = np.searchsorted(end, ats, side="right")  # the row each '@' is in
    at = np.zeros(n, dtype=np.int64)
    at[row] = ats
    domain = end - at - 1
    ok = (np.bincount(row, minlength=n) == 1) & (at > start) & (domain > 0)
    domain[~ok] = 0
    widest = int(domain.max())
    if widest > LONGEST_DOMAIN:
        return None

    padded = np.zeros(len(data) + widest + _FIRST, dtype=np.uint8)
    padded[: len(data)] = data
    width = _FIRST + _MIDDLE + widest
    rows = np.empty((n, width), dtype=np.uint8)
    keep = np.zeros((n, width), dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(padded, max(widest, _FIRST))
    if keep_first:
        lead = padded[start]  # a UTF-8 lead byte says how long its character is
        first = 1 + (lead >= 0xC0) + (lead >= 0xE0) + (lead >= 0xF0)
        rows[:, :_FIRST] = windows[start, :_FIRST]
        keep[:, :_FIRST] = np.arange(_FIRST) < np.where(ok, first, 0)[:, None]
    rows[:, _FIRST : _FIRST + 4] = _STAR
    keep[:, _FIRST : _FIRST + 4] = True  # '****' for a value that is no e-mail
    at_slot = _FIRST + (3 if keep_first else 4)
    rows[:, at_slot] = np.where(ok, _AT, _STAR)
    keep[:, at_slot] = ok | (at_slot < _FIRST + 4)
    rows[:, _FIRST + _MIDDLE :] = windows[np.where(ok, at + 1, 0), :widest]
    keep[:, _FIRST + _MIDDLE :] = np.arange(widest) < domain[:, None]

    lengths = keep.sum(axis=1, dtype=np.int32)
    out_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=out_offsets[1:])
    out = rows[keep]
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(out_offsets), pa.py_buffer(out)]
    )
