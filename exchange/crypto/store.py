"""A directory of encrypted blobs: raw uploads and extracts, each under its own data key.

The store never sees a data key in clear longer than a call: callers keep only the
wrapped form (:meth:`EncryptedStore.wrap_data_key`) next to the dataset's record.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the store is never known to be unshared
    fcntl = None  # type: ignore[assignment]

from exchange.crypto.blob_format import DATA_KEY_SIZE, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from exchange.crypto.master import MasterKey
from exchange.crypto.reader import BlobReader
from exchange.crypto.writer import EncryptedWriter

__all__ = ["EncryptedStore"]

# A leading letter or digit keeps ".", ".." and the writers' ".name.xxx.part" files out.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# What EncryptedWriter leaves behind when its process dies before close() or abort().
_TEMP = re.compile(r"\.[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.[A-Za-z0-9_]+\.part")
# Held shared by every process that has the store open (see :meth:`EncryptedStore.hold`);
# it sits next to the store's directory so that the directory holds blobs only.
_LOCK_SUFFIX = ".in-use.lock"


class EncryptedStore:
    """Encrypted, authenticated files under ``root``, addressed by a flat name."""

    def __init__(
        self, root: Path, master: MasterKey, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.master = master
        self.chunk_size = chunk_size
        self._lock: IO[bytes] | None = None

    @staticmethod
    def new_data_key() -> bytes:
        """A fresh random AES-256 data key (keep it only wrapped)."""
        return secrets.token_bytes(DATA_KEY_SIZE)

    def wrap_data_key(self, data_key: bytes, *, context: bytes) -> bytes:
        return self.master.wrap(data_key, context=context)

    def unwrap_data_key(self, wrapped: bytes, *, context: bytes) -> bytes:
        return self.master.unwrap(wrapped, context=context)

    def writer(self, name: str, data_key: bytes, *, context: bytes) -> EncryptedWriter:
        """A file to write blob ``name`` into; it appears (replacing any old one) on close."""
        return EncryptedWriter(
            self._path(name), name, data_key, context=context, chunk_size=self.chunk_size
        )

    def open_plaintext(self, name: str, data_key: bytes, *, context: bytes) -> BlobReader:
        """A seekable read-only binary file over the decrypted blob (one chunk in memory)."""
        path = self._path(name)
        if not path.is_file():
            raise FileNotFoundError(f"no stored blob named {name!r}")
        return BlobReader(path, name, data_key, context=context)

    def reader(self, name: str, data_key: bytes, *, context: bytes) -> Iterator[bytes]:
        """The decrypted chunks of blob ``name`` in order.

        The header is checked now; each chunk is authenticated before it is yielded,
        and :class:`CryptoError` is raised at the first chunk that fails.
        """
        blob = self.open_plaintext(name, data_key, context=context)

        def chunks() -> Iterator[bytes]:
            with blob:
                yield from blob.iter_chunks()

        return chunks()

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def delete(self, name: str) -> bool:
        """Remove blob ``name``; True if it existed."""
        path = self._path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def blob_names(self) -> list[str]:
        """Names of the stored blobs, sorted."""
        return sorted(
            p.name for p in self.root.iterdir() if _NAME.fullmatch(p.name) and p.is_file()
        )

    def temp_files(self) -> list[str]:
        """Writers' temporary files (``.name.xxx.part``): leftovers unless a writer is open."""
        return sorted(p.name for p in self.root.iterdir() if _TEMP.fullmatch(p.name))

    def delete_temp(self, name: str) -> bool:
        """Remove a writer's temporary file; True if it existed."""
        if not _TEMP.fullmatch(name):
            raise ValueError(f"{name!r} is not a writer's temporary file name")
        try:
            (self.root / name).unlink()
        except FileNotFoundError:
            return False
        return True

    # -- who has the store open ----------------------------------------------------------------

    def hold(self) -> None:
        """Mark the store in use by this process (a shared lock) until :meth:`release`."""
        self._hold()

    def _hold(self) -> IO[bytes] | None:
        if self._lock is None and fcntl is not None:
            lock_path = self.root.parent / f".{self.root.name}{_LOCK_SUFFIX}"
            self._lock = lock_path.open("a+b")
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        return self._lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the lock
            self._lock = None

    @contextmanager
    def alone(self) -> Iterator[bool]:
        """Whether no other process has the store open; if so, none can open it meanwhile.

        The shared lock is turned exclusive for the block (another process's
        :meth:`hold` waits), then back to shared.
        """
        held = self._lock is not None
        lock = self._hold()
        if lock is None:
            yield False
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            exclusive = True
        except BlockingIOError:
            exclusive = False
        try:
            yield exclusive
        finally:
            if held:  # a failed conversion may have dropped the shared lock: take it again
                fcntl.flock(lock, fcntl.LOCK_SH)
            else:
                self.release()

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid blob name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.root / name

    def __repr__(self) -> str:
        return f"EncryptedStore(root={str(self.root)!r}, master={self.master!r})"
