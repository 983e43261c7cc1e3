"""`token`: a keyed pseudonym per value (PRF over distinct values, never a bare hash).

The column is factorized first, so the PRF runs once per distinct value; the
default PRF is batched AES-CMAC. The same value gives the same token under one
key (joins still work inside a lease) and unrelated tokens under another key.
"""

from __future__ import annotations

import binascii

import numpy as np
import pyarrow as pa

from desensitize.prf import prf
from desensitize.rules.base import Context, Params, Rule, fixed_width_text, map_distinct

__all__ = ["Token", "encode_digest"]

_ALPHABETS = {"hex": b"0123456789abcdef", "base32": b"abcdefghijklmnopqrstuvwxyz234567"}
_BITS = {"hex": 4, "base32": 5}


def encode_digest(digest: np.ndarray, alphabet: str, length: int) -> np.ndarray:
    """The first `length` characters of each digest row in hex or base32, as ASCII codes."""
    if alphabet == "hex":  # binascii writes hex at memory speed
        used = np.ascontiguousarray(digest[:, : -(-length // 2)])
        text = np.frombuffer(binascii.b2a_hex(used.tobytes()), dtype=np.uint8)
        return text.reshape(len(digest), 2 * used.shape[1])[:, :length]
    bits_per_char = _BITS[alphabet]
    needed = -(-length * bits_per_char // 8)
    bits = np.unpackbits(digest[:, :needed], axis=1)[:, : length * bits_per_char]
    weights = 1 << np.arange(bits_per_char - 1, -1, -1, dtype=np.uint8)
    values = bits.reshape(len(digest), length, bits_per_char) @ weights
    return np.frombuffer(_ALPHABETS[alphabet], dtype=np.uint8)[values]


class Token(Rule):
    """Replace each value by `prefix` + a keyed PRF of it in hex or base32."""

    name = "token"
    text_input = True
    keyed = True

    def configure(self, params: Params) -> None:
        self.algorithm = params.choice("algorithm", ("aes-cmac", "hmac-sha256"), "aes-cmac")
        self.alphabet = params.choice("alphabet", tuple(_ALPHABETS), "hex")
        self.length = params.integer("length", 16, minimum=8)
        limit = 32 if self.alphabet == "hex" else 25  # the 128-bit CMAC output
        if self.length > limit:
            raise params.fail(f"parameter 'length' must be at most {limit} for {self.alphabet}")
        self.prefix = params.text("prefix", "tk_")
        if not self.prefix.isascii():
            raise params.fail("parameter 'prefix' must be ASCII")

    def transform(self, values: pa.Array, ctx: Context) -> pa.Array:
        key = ctx.keys.derive(self.key_label)
        return map_distinct(values, lambda distinct: self._tokens(key, distinct))

    def _tokens(self, key: bytes, distinct: pa.Array) -> pa.Array:
        prefix = np.frombuffer(self.prefix.encode(), dtype=np.uint8)
        chars = np.empty((len(distinct), len(prefix) + self.length), dtype=np.uint8)
        chars[:, : len(prefix)] = prefix
        digest = prf(key, distinct, self.algorithm)  # type: ignore[arg-type]  # a checked choice
        chars[:, len(prefix) :] = encode_digest(digest, self.alphabet, self.length)
        return fixed_width_text(chars)
