"""Encryption at rest: a master key wraps per-dataset data keys, which encrypt blobs in chunks."""

from __future__ import annotations

from exchange.crypto.errors import CryptoError, KeyFileError
from exchange.crypto.master import MasterKey, load_or_create_master_key
from exchange.crypto.reader import BlobReader
from exchange.crypto.store import EncryptedStore
from exchange.crypto.writer import EncryptedWriter

__all__ = [
    "BlobReader",
    "CryptoError",
    "EncryptedStore",
    "EncryptedWriter",
    "KeyFileError",
    "MasterKey",
    "load_or_create_master_key",
]
