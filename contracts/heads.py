"""Signed tree heads: Ed25519 over the tree size, the root hash and the time.

The signed bytes follow the layout of RFC 6962's ``TreeHeadSignature``: version
(0), signature type ``tree_hash`` (1), timestamp in milliseconds since the epoch
and tree size as unsigned 64-bit big-endian integers, then the 32-byte root.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.errors import VerificationError
from contracts.merkle import HASH_SIZE
from contracts.utc import format_utc, parse_utc, require_utc

PublicKeyLike = Ed25519PublicKey | bytes | str
_SIGNED = struct.Struct(">BBQQ")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree size and root, stamped with a UTC time and signed with Ed25519."""

    size: int
    root: bytes
    time: datetime
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The exact bytes covered by the signature."""
        return tree_head_bytes(self.size, self.root, self.time)

    def verify(self, public_key: PublicKeyLike) -> bool:
        """True when the signature is valid for this size, root and time."""
        try:
            load_public_key(public_key).verify(self.signature, self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: root and signature in hex, time as ISO-8601 ``Z``."""
        return {
            "root": self.root.hex(),
            "signature": self.signature.hex(),
            "size": self.size,
            "time": format_utc(self.time),
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedTreeHead:
        """Read the dict written by :meth:`to_json`; raise VerificationError if malformed."""
        try:
            size, root = data["size"], bytes.fromhex(data["root"])
            signature, time = bytes.fromhex(data["signature"]), parse_utc(data["time"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"malformed signed tree head: {exc}") from None
        if type(size) is not int or size < 0 or len(root) != HASH_SIZE:
            raise VerificationError(f"malformed signed tree head: size={size!r}, root={root.hex()}")
        return cls(size=size, root=root, time=time, signature=signature)


def tree_head_bytes(size: int, root: bytes, time: datetime) -> bytes:
    """Serialise a tree head for signing (RFC 6962 TreeHeadSignature layout)."""
    elapsed = require_utc(time, "tree head time") - _EPOCH
    millis = (elapsed.days * 86_400 + elapsed.seconds) * 1000 + elapsed.microseconds // 1000
    return _SIGNED.pack(0, 1, millis, size) + root


def sign_tree_head(
    private_key: Ed25519PrivateKey, size: int, root: bytes, time: datetime
) -> SignedTreeHead:
    """Sign a tree head; the time is kept to the millisecond, as it is signed."""
    time = require_utc(time, "tree head time")
    time = time.replace(microsecond=time.microsecond // 1000 * 1000)
    signature = private_key.sign(tree_head_bytes(size, root, time))
    return SignedTreeHead(size=size, root=root, time=time, signature=signature)


def load_public_key(key: PublicKeyLike) -> Ed25519PublicKey:
    """Accept an Ed25519 public key object, 32 raw bytes, 64 hex characters or PEM."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("-----BEGIN"):
            key = text.encode("ascii")
        else:
            try:
                key = bytes.fromhex(text)
            except ValueError:
                raise VerificationError("public key string is neither PEM nor hex") from None
    if isinstance(key, bytes) and len(key) == 32:
        return Ed25519PublicKey.from_public_bytes(key)
    if isinstance(key, bytes) and key.lstrip().startswith(b"-----BEGIN"):
        loaded = serialization.load_pem_public_key(key)
        if isinstance(loaded, Ed25519PublicKey):
            return loaded
        raise VerificationError(f"PEM key is {type(loaded).__name__}, not Ed25519")
    raise VerificationError("public key must be Ed25519: 32 raw bytes, 64 hex characters or PEM")


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key (or of the public half of a private key)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def now_utc() -> datetime:
    """The current time in UTC (callers that need reproducibility pass their own)."""
    return datetime.now(UTC)
