"""Decrypt a blob chunk by chunk: as an iterator, or as a seekable read-only file.

Chunk boundaries follow from the chunk size in the header, so any plaintext
offset maps to one chunk: Parquet readers can seek to the footer and read row
groups without decrypting the whole file, and memory holds one chunk at a time.
Each chunk is authenticated before any of its bytes are returned.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

from exchange.crypto.blob_format import HEADER_SIZE, TAG_SIZE, BlobHeader, ChunkCipher
from exchange.crypto.errors import CryptoError

__all__ = ["BlobReader"]


class BlobReader(io.RawIOBase):
    """A read-only, seekable binary file over the decrypted content of one blob."""

    def __init__(self, path: Path, name: str, data_key: bytes, *, context: bytes) -> None:
        super().__init__()
        self.name = name
        self._fh = open(path, "rb")  # noqa: SIM115 - owned by this object, closed in close()
        try:
            header = BlobHeader.unpack(self._fh.read(HEADER_SIZE), name)
            self._cipher = ChunkCipher(data_key, header, context, name)
            body = os.fstat(self._fh.fileno()).st_size - HEADER_SIZE
            self._chunk_size = header.chunk_size
            self._stride = header.chunk_size + TAG_SIZE
            self._chunks = -(-body // self._stride)
            last = body - (self._chunks - 1) * self._stride
            if self._chunks == 0 or last < TAG_SIZE:
                raise CryptoError(f"blob {name!r} is truncated")
            self._size = body - self._chunks * TAG_SIZE
        except BaseException:
            self._fh.close()
            raise
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    @property
    def size(self) -> int:
        """The plaintext size implied by the file's length (verified as the chunks are read)."""
        return self._size

    def chunk(self, index: int) -> bytes:
        """The authenticated plaintext of chunk ``index``."""
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        self._fh.seek(HEADER_SIZE + index * self._stride)
        sealed = self._fh.read(self._stride)
        plain = self._cipher.open(index, sealed, final=index == self._chunks - 1)
        self._cached = (index, plain)
        return plain

    def iter_chunks(self) -> Iterator[bytes]:
        """Every chunk's plaintext in order; the last one is checked to really be the last."""
        for index in range(self._chunks):
            yield self.chunk(index)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` as far as the blob allows (no short reads before the end)."""
        self._checkClosed()
        out = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(out) and self._pos < self._size:
            index, offset = divmod(self._pos, self._chunk_size)
            piece = self.chunk(index)[offset : offset + len(out) - filled]
            if not piece:  # only if the file changed under us; never loop forever
                raise CryptoError(f"blob {self.name!r} is shorter than its length implies")
            out[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._pos += len(piece)
        return filled

    def readall(self) -> bytes:
        return self.read(max(self._size - self._pos, 0))

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
            self._cached = None
        super().close()

    def __repr__(self) -> str:
        return f"BlobReader(name={self.name!r}, size={self._size})"
