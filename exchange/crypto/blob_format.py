"""The on-disk format of an encrypted blob: a header, then AES-GCM chunks.

``header = magic "DLB" | version | chunk size (u32) | random 8-byte nonce prefix``.
Every chunk but the last holds exactly ``chunk size`` plaintext bytes; the last
holds 0..chunk size (an empty blob is one empty final chunk). Chunk ``i`` is
sealed with nonce ``prefix | i`` and associated data binding the header, the
caller's context, ``i`` and a final-chunk flag, so reordering, dropping trailing
chunks, swapping chunks between blobs or moving a blob to another context all
fail authentication. This is the STREAM construction (Hoang, Reyhanitabar,
Rogaway, Vizár 2015) also used by age and Tink.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.crypto.errors import CryptoError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "HEADER_SIZE",
    "MAX_CHUNK_SIZE",
    "TAG_SIZE",
    "BlobHeader",
    "ChunkCipher",
]

MAGIC = b"DLB"
VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 20
# Bounds memory when reading: the header is read before it can be authenticated.
MAX_CHUNK_SIZE = 16 << 20
TAG_SIZE = 16
DATA_KEY_SIZE = 32
_HEADER = struct.Struct(">3sBI8s")
HEADER_SIZE = _HEADER.size
_AAD_LABEL = b"datalease/blob-chunk/v1\x00"
# A 4-byte counter in the nonce; beyond it nonces would repeat.
_MAX_CHUNKS = 1 << 32


@dataclass(frozen=True)
class BlobHeader:
    chunk_size: int
    nonce_prefix: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, VERSION, self.chunk_size, self.nonce_prefix)

    @classmethod
    def unpack(cls, raw: bytes, name: str) -> BlobHeader:
        if len(raw) < HEADER_SIZE:
            raise CryptoError(f"blob {name!r} is truncated: its header is incomplete")
        magic, version, chunk_size, prefix = _HEADER.unpack(raw[:HEADER_SIZE])
        if magic != MAGIC or version != VERSION:
            raise CryptoError(f"blob {name!r} is not an encrypted blob of a known version")
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise CryptoError(f"blob {name!r} has a corrupted header")
        return cls(chunk_size, prefix)


class ChunkCipher:
    """Seals and opens the chunks of one blob under its data key, header and context."""

    def __init__(self, data_key: bytes, header: BlobHeader, context: bytes, name: str) -> None:
        if not isinstance(data_key, bytes) or len(data_key) != DATA_KEY_SIZE:
            raise ValueError(f"a data key must be {DATA_KEY_SIZE} bytes")
        if not isinstance(context, bytes):
            raise TypeError("context must be bytes, e.g. the dataset id encoded as UTF-8")
        self._aead = AESGCM(data_key)
        self._prefix = header.nonce_prefix
        # The context is length-prefixed so that no two (header, context) pairs collide.
        self._aad = _AAD_LABEL + header.pack() + struct.pack(">I", len(context)) + context
        self._name = name

    def _nonce_and_aad(self, index: int, final: bool) -> tuple[bytes, bytes]:
        if not 0 <= index < _MAX_CHUNKS:
            raise CryptoError(f"blob {self._name!r} has too many chunks")
        counter = struct.pack(">I", index)
        return self._prefix + counter, self._aad + counter + (b"\x01" if final else b"\x00")

    def seal(self, index: int, plaintext: bytes, *, final: bool) -> bytes:
        nonce, aad = self._nonce_and_aad(index, final)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, index: int, sealed: bytes, *, final: bool) -> bytes:
        nonce, aad = self._nonce_and_aad(index, final)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise CryptoError(
                f"blob {self._name!r} could not be decrypted at chunk {index}: wrong data key "
                "or context, or the file was truncated or tampered with"
            ) from None
