"""`token`: a keyed pseudonym per value (PRF over distinct values, never a bare hash).

The column is factorized first, so the PRF runs once per distinct value; the
default PRF is batched AES-CMAC. The same value gives the same token under one
key (joins still work inside a lease) and unrelated tokens under another key.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from desensitize.prf import prf
from desensitize.rules.base import Context, Params, Rule, fixed_width_text

__all__ = ["Token", "encode_digest"]

_ALPHABETS = {"hex": b"0123456789abcdef", "base32": b"abcdefghijklmnopqrstuvwxyz234567"}
_BITS = {"hex": 4, "base32": 5}


_HEX_PAIRS = np.frombuffer(bytes(range(256)).hex().encode(), dtype=np.uint8).reshape(256, 2)


def encode_digest(digest: np.ndarray, alphabet: str, length: int) -> np.ndarray:
    """The first `length` characters of each digest row in hex or base32, as ASCII codes."""
    if alphabet == "hex":  # two characters per byte, straight from a table
        pairs = _HEX_PAIRS[digest[:, : -(-length // 2)]]
        return pairs.reshape(len(digest), 2 * pairs.shape[1])[:, :length]
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
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary
        digest = prf(ctx.keys.derive(self.key_label), distinct, self.algorithm)
        chars = encode_digest(digest, self.alphabet, self.length)
        prefix = np.frombuffer(self.prefix.encode(), dtype=np.uint8)
        chars = np.hstack([np.broadcast_to(prefix, (len(distinct), len(prefix))), chars])
        return fixed_width_text(chars).take(encoded.indices)
