"""Errors of the encryption layer.

Messages name files, blob names and key fingerprints, never key material or
plaintext: they end up in logs and API responses.
"""

from __future__ import annotations

__all__ = ["CryptoError", "KeyFileError"]


class CryptoError(Exception):
    """Data could not be decrypted or authenticated: wrong key, wrong context or tampering."""


class KeyFileError(CryptoError):
    """A master key file is unsafe (permissions, type) or malformed."""
