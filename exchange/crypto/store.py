"""A directory of encrypted blobs: raw uploads and extracts, each under its own data key.

The store never sees a data key in clear longer than a call: callers keep only the
wrapped form (:meth:`EncryptedStore.wrap_data_key`) next to the dataset's record.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from exchange.crypto.blob_format import DATA_KEY_SIZE, DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from exchange.crypto.master import MasterKey
from exchange.crypto.reader import BlobReader
from exchange.crypto.writer import EncryptedWriter

__all__ = ["EncryptedStore"]

# A leading letter or digit keeps ".", ".." and the writers' ".name.xxx.part" files out.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


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

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid blob name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.root / name

    def __repr__(self) -> str:
        return f"EncryptedStore(root={str(self.root)!r}, master={self.master!r})"
