"""Keyed pseudo-random functions over many byte strings at once.

Tokens and consistent fakes need one keyed PRF value per distinct input. Calling
HMAC per value from Python costs about a microsecond of interpreter time each;
AES-CMAC (RFC 4493) can instead run as a handful of AES-ECB calls over *all*
messages together, with numpy doing the CBC chaining between block positions.
HMAC-SHA256 (RFC 4231) is kept as a choice for buyers who must match it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["Algorithm", "aes_cmac", "hmac_sha256", "prf", "to_binary"]

Algorithm = Literal["aes-cmac", "hmac-sha256"]
BLOCK = 16
_RB = 0x87  # the constant of the CMAC subkey doubling in GF(2^128)
_EMPTY = np.zeros(0, dtype=np.uint8)
_LANE = np.arange(BLOCK)
# Row r keeps the first r bytes of a block, and puts the 0x80 pad byte at byte r.
_KEEP = np.where(np.arange(BLOCK + 1)[:, None] > _LANE, 0xFF, 0).astype(np.uint8)
_PAD = np.where(np.arange(BLOCK + 1)[:, None] == _LANE, 0x80, 0).astype(np.uint8)
_KEEP_ROWS = _KEEP.view(f"V{BLOCK}").ravel()  # one 16-byte item per row: gathers are memcpys


def _rows(blocks: np.ndarray) -> np.ndarray:
    """An (n, 16) uint8 array from n 16-byte items, without a copy."""
    return blocks.view(np.uint8).reshape(-1, BLOCK)


def _ecb(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """AES-ECB encrypt a (n, 16) uint8 array in one call, straight between numpy buffers."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    out = np.empty(blocks.size + BLOCK - 1, dtype=np.uint8)  # update_into wants the slack
    written = encryptor.update_into(np.ascontiguousarray(blocks).data, out.data)
    return out[:written].reshape(-1, BLOCK)


def _double(block: bytes) -> bytes:
    """Multiply by x in GF(2^128), as RFC 4493 section 2.3 generates K1 and K2."""
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value & ((1 << 128) - 1)) ^ _RB
    return value.to_bytes(BLOCK, "big")


def _subkeys(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    ell = _ecb(key, np.zeros((1, BLOCK), dtype=np.uint8)).tobytes()
    k1 = _double(ell)
    k2 = _double(k1)
    return np.frombuffer(k1, dtype=np.uint8), np.frombuffer(k2, dtype=np.uint8)


def to_binary(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical bytes of each value: UTF-8 for text (viewed, not copied), Arrow's text
    form for other types."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return values.view(pa.large_binary())
    if not (pa.types.is_string(kind) or pa.types.is_binary(kind)):
        values = pc.cast(values, pa.string())
    return values.view(pa.binary())


def _layout(messages: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start offsets, byte lengths (0 for nulls) and the data buffer of binary messages."""
    n = len(messages)
    width = 8 if pa.types.is_large_binary(messages.type) else 4
    _, offsets_buffer, data_buffer = messages.buffers()
    offsets = np.frombuffer(
        offsets_buffer,
        dtype=np.int64 if width == 8 else np.int32,
        count=n + 1,
        offset=messages.offset * width,
    ).astype(np.int64)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else _EMPTY
    lengths = np.diff(offsets)
    if messages.null_count:
        lengths[messages.is_null().to_numpy(zero_copy_only=False)] = 0
    return offsets[:-1], lengths, data


def _blocks_at(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The 16 bytes from each start offset (zeros past the end of the data), as a copy."""
    if len(data) < BLOCK:
        data = np.concatenate([data, np.zeros(BLOCK - len(data), dtype=np.uint8)])
    limit = len(data) - BLOCK
    # Every 16-byte window of the data as one item, so gathering a block copies 16 bytes.
    windows = np.ndarray((limit + 1,), f"V{BLOCK}", data, strides=(1,))
    blocks = _rows(windows[np.minimum(starts, limit)])
    over = np.flatnonzero(starts > limit)
    if len(over):  # only the last message or two reach past the end of the buffer
        tail = np.concatenate([data[limit:], np.zeros(BLOCK, dtype=np.uint8)])
        blocks[over] = np.lib.stride_tricks.sliding_window_view(tail, BLOCK)[
            np.minimum(starts[over] - limit, BLOCK)
        ]
    return blocks


def aes_cmac(key: bytes, messages: pa.Array) -> np.ndarray:
    """AES-CMAC (RFC 4493) of every message; returns an (n, 16) uint8 array.

    Messages are sorted by length in blocks, so those still active at block
    position j are a prefix; each position is gathered from the Arrow data
    buffer as an (active, 16) matrix and encrypted in one ECB call. The number of
    AES calls is the length of the longest message in blocks. Nulls are treated
    as empty messages; callers mask them.
    """
    messages = to_binary(messages)
    n = len(messages)
    if n == 0:
        return np.zeros((0, BLOCK), dtype=np.uint8)
    starts, lengths, data = _layout(messages)
    nblocks = np.maximum(1, -(-lengths // BLOCK))
    longest = int(nblocks.max())
    order = None
    if longest > 1:
        # Longest first: the messages still running at block j are a prefix, and those
        # ending at block j are one contiguous run just before the end of that prefix.
        rank = longest - nblocks
        order = np.argsort(rank.astype(np.uint16) if longest < 2**16 else rank, kind="stable")
        starts, lengths, nblocks = starts[order], lengths[order], nblocks[order]
    # A last block of r bytes keeps them (_KEEP[r]) and is XORed with finish[r]: the
    # 10* padding and K2 when short (r < 16, or an empty message), K1 when full.
    k1, k2 = _subkeys(key)
    finish = _PAD ^ k2
    finish[BLOCK] = k1
    finish_rows = finish.view(f"V{BLOCK}").ravel()
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    flat = np.zeros(n * BLOCK + BLOCK, dtype=np.uint8)  # update_into wants slack at the end
    state = flat[: n * BLOCK].reshape(n, BLOCK)
    for j in range(longest):
        active = int(np.searchsorted(-nblocks, -j, side="left"))
        ending = int(np.searchsorted(-nblocks, -(j + 1), side="left"))
        block = _blocks_at(data, starts[:active] + j * BLOCK)
        last = block[ending:]
        remaining = lengths[ending:active] - j * BLOCK
        last &= _rows(_KEEP_ROWS[remaining])
        last ^= _rows(finish_rows[remaining])
        if j:  # the chaining value before the first block is zero
            block ^= state[:active]
        cipher.encryptor().update_into(block.data, flat[: active * BLOCK + BLOCK - 1].data)
    if order is None:
        return state
    out = np.empty_like(state)
    out.view(f"V{BLOCK}").ravel()[order] = state.view(f"V{BLOCK}").ravel()
    return out


def hmac_sha256(key: bytes, messages: pa.Array) -> np.ndarray:
    """HMAC-SHA256 (RFC 4231) of every message; returns an (n, 32) uint8 array.

    Runs once per message in C through `hmac.digest`; callers pass distinct
    values only, so this is a loop over uniques, not over rows.
    """
    items = to_binary(messages).to_pylist()  # bytes, or None for a null
    digests = b"".join(hmac.digest(key, item or b"", hashlib.sha256) for item in items)
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)


def prf(key: bytes, messages: pa.Array, algorithm: Algorithm = "aes-cmac") -> np.ndarray:
    """The keyed PRF of each message as rows of a uint8 array (16 or 32 bytes wide)."""
    if algorithm == "aes-cmac":
        return aes_cmac(key[:16], messages)
    if algorithm == "hmac-sha256":
        return hmac_sha256(key, messages)
    raise ValueError(f"unknown PRF algorithm {algorithm!r}; expected 'aes-cmac' or 'hmac-sha256'")
