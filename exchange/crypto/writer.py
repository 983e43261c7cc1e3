"""Encrypt a stream chunk by chunk into a temporary file, then rename it into place.

Memory holds at most one chunk. Until :meth:`EncryptedWriter.close` succeeds the
blob does not exist under its name; on any error (or :meth:`abort`, or the writer
being dropped unclosed) the temporary file is removed, so nothing half-written
stays behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from exchange.crypto.blob_format import BlobHeader, ChunkCipher
from exchange.crypto.durable import fsync_dir

__all__ = ["EncryptedWriter"]


class EncryptedWriter:
    """A write-only binary file that stores what is written to it encrypted, as blob ``name``."""

    def __init__(
        self, path: Path, name: str, data_key: bytes, *, context: bytes, chunk_size: int
    ) -> None:
        header = BlobHeader(chunk_size, secrets.token_bytes(8))
        self._cipher = ChunkCipher(data_key, header, context, name)
        self._path = path
        self.name = name
        self._chunk_size = chunk_size
        self._buf = bytearray()
        self._index = 0
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False
        # mkstemp creates the file with mode 0600; the leading dot keeps it out of valid names.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        self._guard(self._fh.write, header.pack())

    @property
    def plaintext_sha256(self) -> str:
        """SHA-256 (hex) of the plaintext written so far; final once the writer is closed."""
        return self._hash.hexdigest()

    @property
    def plaintext_size(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        return self._done

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing to do: a chunk is only written once it is known not to be the last."""

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError(f"blob {self.name!r}: write to a closed writer")
        view = memoryview(data).cast("B")
        self._guard(self._absorb, view)
        return len(view)

    def _absorb(self, view: memoryview) -> None:
        self._hash.update(view)
        self._size += len(view)
        pos = 0
        while pos < len(view):
            # A full buffer is sealed only when more data arrives: then it is surely not final.
            if len(self._buf) == self._chunk_size:
                self._emit(final=False)
            take = min(self._chunk_size - len(self._buf), len(view) - pos)
            self._buf += view[pos : pos + take]
            pos += take

    def _emit(self, *, final: bool) -> None:
        self._fh.write(self._cipher.seal(self._index, bytes(self._buf), final=final))
        self._index += 1
        self._buf.clear()

    def close(self) -> None:
        """Seal the final chunk, make the file durable and publish it under its name."""
        if self._done:
            return
        self._guard(self._commit)

    def _commit(self) -> None:
        self._emit(final=True)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self._path)
        self._done = True
        fsync_dir(self._path.parent)

    def abort(self) -> None:
        """Discard everything written; the blob's name is left as it was."""
        if self._done:
            return
        self._done = True
        self._buf.clear()
        with contextlib.suppress(OSError):
            self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def _guard(self, step: Callable[..., object], *args: object) -> None:
        """Run ``step``; on any failure remove the temporary file before re-raising."""
        try:
            step(*args)
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> EncryptedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() was abandoned mid-way: never publish it.
        with contextlib.suppress(Exception):
            self.abort()

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        return f"EncryptedWriter(name={self.name!r}, {state}, plaintext_size={self._size})"
