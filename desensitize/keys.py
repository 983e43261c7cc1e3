"""Key material for keyed rules: one secret, many purpose-bound derived keys.

A lease gets its own secret, so tokens and fakes of two leases cannot be linked.
Each rule derives its own key from the secret with HKDF-SHA256 and a label that
names the rule and the column (or a link group), so a key leaked for one column
says nothing about another. Reports carry only `key_id`, a one-way public id.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Keyring", "as_keyring"]

_SALT = b"datalease/desensitize/v1"
MIN_SECRET_BYTES = 16


class Keyring:
    """A secret and the keys derived from it; never prints or reports the secret."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes, key_id: str | None = None) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise TypeError(f"secret must be bytes, got {type(secret).__name__}")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes, got {len(secret)}")
        self._secret = bytes(secret)
        self.key_id = key_id if key_id is not None else self._public_id()

    def derive(self, label: str, length: int = 32) -> bytes:
        """The key for one purpose, e.g. ``derive("token:mobile")`` (HKDF-SHA256)."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=label.encode())
        return hkdf.derive(self._secret)

    def id_for(self, label: str) -> str:
        """A public id of the key derived for `label`: safe to log and to report."""
        return _fingerprint(self.derive(label))

    def _public_id(self) -> str:
        return _fingerprint(self.derive("key-id"))

    def __repr__(self) -> str:
        return f"Keyring(key_id={self.key_id!r})"


def _fingerprint(key: bytes) -> str:
    # Hashing a derived key (not the secret) keeps the id one-way twice over.
    return "k_" + hashlib.sha256(b"datalease key id\x00" + key).hexdigest()[:16]


def as_keyring(keys: Keyring | bytes) -> Keyring:
    """Accept a Keyring or raw secret bytes wherever keys are taken."""
    if isinstance(keys, Keyring):
        return keys
    if isinstance(keys, bytes | bytearray):
        return Keyring(bytes(keys))
    raise TypeError(f"keys must be a Keyring or bytes, got {type(keys).__name__}")
