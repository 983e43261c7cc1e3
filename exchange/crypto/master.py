"""The master key: a 32-byte secret kept in a 0600 file that wraps per-dataset data keys.

Data is never encrypted under the master key directly. Each dataset gets its own
data key; only the data key *wrapped* (encrypted) by the master key is stored in
the database, with the dataset id as associated data so it cannot be moved.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.crypto.durable import fsync_dir
from exchange.crypto.errors import CryptoError, KeyFileError

__all__ = ["KEY_SIZE", "MasterKey", "load_or_create_master_key"]

KEY_SIZE = 32
NONCE_SIZE = 12
_KEY_ID_LABEL = b"datalease/master-key-id/v1\x00"
_WRAP_LABEL = b"datalease/wrapped-data-key/v1\x00"
_WRAP_VERSION = b"\x01"
_DERIVE_LABEL = b"datalease/derived-secrets/v1\x00"
_KEY_ID_BYTES = 8
# version | key id | nonce | AES-GCM(data key) with its 16-byte tag
_WRAPPED_SIZE = 1 + _KEY_ID_BYTES + NONCE_SIZE + KEY_SIZE + 16


class MasterKey:
    """An AES-256 key that wraps data keys; its bytes are never shown, pickled or exposed."""

    __slots__ = ("_aead", "_derive_key", "_key_id")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
            raise ValueError(f"a master key must be {KEY_SIZE} bytes")
        self._aead = AESGCM(bytes(key))
        # A public fingerprint: domain-separated so it is not a hash usable elsewhere.
        self._key_id = hashlib.sha256(_KEY_ID_LABEL + bytes(key)).digest()[:_KEY_ID_BYTES]
        self._derive_key = hashlib.sha256(_DERIVE_LABEL + bytes(key)).digest()

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_SIZE))

    @property
    def key_id(self) -> str:
        """A public fingerprint (16 hex digits) that tells keys apart without revealing them."""
        return self._key_id.hex()

    def derive(self, label: str) -> bytes:
        """A 32-byte secret for ``label`` (HMAC-SHA256 under a key derived from the master).

        Used where a secret must be stable without being stored, e.g. the pseudonym key
        a buyer may reuse across its leases of one dataset.
        """
        return hmac.new(self._derive_key, label.encode("utf-8"), hashlib.sha256).digest()

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` so that only this master key and the same ``context`` unwrap it."""
        if len(data_key) != KEY_SIZE:
            raise ValueError(f"a data key must be {KEY_SIZE} bytes")
        prefix = _WRAP_VERSION + self._key_id
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, bytes(data_key), self._aad(prefix, context))
        return prefix + nonce + sealed

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """The data key inside ``wrapped``; :class:`CryptoError` if it was not wrapped here."""
        if len(wrapped) != _WRAPPED_SIZE or wrapped[:1] != _WRAP_VERSION:
            _unwrap_failed("it is not a wrapped data key of this format")
        prefix, rest = wrapped[: 1 + _KEY_ID_BYTES], wrapped[1 + _KEY_ID_BYTES :]
        if prefix[1:] != self._key_id:
            _unwrap_failed(f"it was wrapped under master key {prefix[1:].hex()}, not {self.key_id}")
        try:
            return self._aead.decrypt(
                rest[:NONCE_SIZE], rest[NONCE_SIZE:], self._aad(prefix, context)
            )
        except InvalidTag:
            _unwrap_failed("wrong context, or the wrapped key was altered")

    @staticmethod
    def _aad(prefix: bytes, context: bytes) -> bytes:
        if not isinstance(context, bytes):
            raise TypeError("context must be bytes, e.g. the dataset id encoded as UTF-8")
        return _WRAP_LABEL + prefix + context

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a MasterKey cannot be pickled; load it from its key file instead")


def _unwrap_failed(reason: str) -> NoReturn:
    raise CryptoError(f"data key could not be unwrapped: {reason}") from None


def load_or_create_master_key(path: Path) -> MasterKey:
    """The master key in ``path``; on first run a new random key is written there with mode 0600.

    A key file that group or others may read or write is refused rather than used:
    anyone who can read it can decrypt every dataset.
    """
    path = Path(path)
    if not path.exists():
        _create_key_file(path)
    return _load_key_file(path)


def _load_key_file(path: Path) -> MasterKey:
    with open(path, "rb") as fh:
        # fstat the opened file, not the path, so nothing can be swapped in between.
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"master key file {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"master key file {path} has mode {mode:#o}; it must not be accessible to group "
                f"or others (run: chmod 600 {path})"
            )
        raw = fh.read(KEY_SIZE + 1)
    if len(raw) != KEY_SIZE:
        raise KeyFileError(f"master key file {path} holds {len(raw)} bytes, expected {KEY_SIZE}")
    return MasterKey(raw)


def _create_key_file(path: Path) -> None:
    """Write a new key atomically: a complete 0600 file appears under ``path`` or nothing does."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            fh.write(secrets.token_bytes(KEY_SIZE))
            fh.flush()
            os.fsync(fh.fileno())
        # link() never replaces: if another process created the key first, keep theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
