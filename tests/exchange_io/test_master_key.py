"""The master key file and data-key wrapping."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from exchange.crypto import CryptoError, KeyFileError, MasterKey, load_or_create_master_key


def test_master_key_file_is_created_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    first = load_or_create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == 32
    second = load_or_create_master_key(path)
    assert second.key_id == first.key_id
    wrapped = first.wrap(b"k" * 32, context=b"dataset:1")
    assert second.unwrap(wrapped, context=b"dataset:1") == b"k" * 32
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp file left


def test_world_readable_key_file_is_refused_naming_path_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match=r"master\.key has mode 0o644") as info:
        load_or_create_master_key(path)
    assert path.read_bytes().hex() not in str(info.value)


def test_key_file_of_wrong_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="holds 5 bytes, expected 32"):
        load_or_create_master_key(path)


def test_key_id_is_a_public_fingerprint_and_repr_hides_the_key() -> None:
    raw = bytes(range(32))
    key = MasterKey(raw)
    assert len(key.key_id) == 16 and key.key_id != raw.hex()[:16]
    assert repr(key) == f"MasterKey(key_id={key.key_id!r})"
    assert raw.hex() not in repr(key) and str(raw) not in repr(key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_wrapped_key_is_bound_to_its_context() -> None:
    master = MasterKey.generate()
    wrapped = master.wrap(b"d" * 32, context=b"dataset:a")
    assert b"d" * 32 not in wrapped
    with pytest.raises(CryptoError, match="data key could not be unwrapped"):
        master.unwrap(wrapped, context=b"dataset:b")


def test_wrapped_key_needs_the_same_master_key() -> None:
    wrapped = MasterKey.generate().wrap(b"d" * 32, context=b"x")
    other = MasterKey.generate()
    with pytest.raises(CryptoError, match=f"not {other.key_id}"):
        other.unwrap(wrapped, context=b"x")


def test_altered_wrapped_key_is_rejected() -> None:
    master = MasterKey.generate()
    wrapped = bytearray(master.wrap(b"d" * 32, context=b"x"))
    wrapped[-1] ^= 1
    with pytest.raises(CryptoError, match="data key could not be unwrapped"):
        master.unwrap(bytes(wrapped), context=b"x")
    with pytest.raises(CryptoError, match="not a wrapped data key"):
        master.unwrap(b"garbage", context=b"x")


def test_derived_secrets_are_stable_per_label_and_per_master_key() -> None:
    raw = bytes(range(32))
    key = MasterKey(raw)
    assert key.derive("link:ds-1:buyer-1") == MasterKey(raw).derive("link:ds-1:buyer-1")
    assert key.derive("link:ds-1:buyer-1") != key.derive("link:ds-1:buyer-2")
    assert key.derive("x") != MasterKey.generate().derive("x")
    assert len(key.derive("x")) == 32 and raw not in key.derive("x")
