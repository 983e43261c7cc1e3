"""Keyrings derive per-purpose keys and publish only one-way ids."""

from __future__ import annotations

import pytest

from desensitize import Keyring

from .conftest import SECRET


def test_derived_keys_are_deterministic_and_differ_by_label(keys: Keyring) -> None:
    assert keys.derive("token:name") == Keyring(SECRET).derive("token:name")
    assert keys.derive("token:name") != keys.derive("token:mobile")
    assert len(keys.derive("token:name")) == 32


def test_key_id_reveals_neither_secret_nor_derived_keys(keys: Keyring) -> None:
    assert keys.key_id.startswith("k_")
    assert SECRET.hex() not in keys.key_id
    assert keys.key_id != Keyring(b"another-secret-of-enough-length!").key_id
    assert keys.id_for("token:name") not in keys.derive("token:name").hex()


def test_an_explicit_key_id_is_kept() -> None:
    assert Keyring(SECRET, key_id="lease-7").key_id == "lease-7"


def test_repr_shows_the_key_id_only(keys: Keyring) -> None:
    assert repr(keys) == f"Keyring(key_id={keys.key_id!r})"


@pytest.mark.parametrize(
    ("secret", "error", "message"),
    [("text", TypeError, "secret must be bytes"), (b"short", ValueError, "at least 16 bytes")],
)
def test_bad_secrets_are_refused(secret: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Keyring(secret)  # type: ignore[arg-type]
