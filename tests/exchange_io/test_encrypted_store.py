"""Encrypted blobs: round trips, streaming reads, and every kind of tampering detected."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.crypto import CryptoError, EncryptedStore, MasterKey
from exchange.crypto.blob_format import HEADER_SIZE, TAG_SIZE

CTX = b"dataset:ds-1"
MARKER = b"PLANTED-PLAINTEXT-MARKER-440301199001011234"
SMALL = 64  # a tiny chunk size makes multi-chunk tampering cases cheap


@pytest.fixture()
def store(tmp_path: Path) -> EncryptedStore:
    return EncryptedStore(tmp_path / "blobs", MasterKey.generate())


@pytest.fixture()
def small_store(tmp_path: Path) -> EncryptedStore:
    return EncryptedStore(tmp_path / "small", MasterKey.generate(), chunk_size=SMALL)


def put(store: EncryptedStore, name: str, data: bytes, key: bytes, context: bytes = CTX) -> None:
    with store.writer(name, key, context=context) as w:
        w.write(data)


def get(store: EncryptedStore, name: str, key: bytes, context: bytes = CTX) -> bytes:
    return b"".join(store.reader(name, key, context=context))


def test_large_random_blob_round_trips_in_chunks(store: EncryptedStore) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    key = store.new_data_key()
    with store.writer("raw-1", key, context=CTX) as w:
        for i in range(0, len(data), 300_000):  # writes that straddle chunk boundaries
            w.write(data[i : i + 300_000])
    assert w.plaintext_size == len(data)
    assert w.plaintext_sha256 == hashlib.sha256(data).hexdigest()
    chunks = list(store.reader("raw-1", key, context=CTX))
    assert max(len(c) for c in chunks) == store.chunk_size and len(chunks) == 6
    assert b"".join(chunks) == data
    with store.open_plaintext("raw-1", key, context=CTX) as fh:
        assert fh.read() == data


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL])
def test_sizes_around_chunk_boundaries_round_trip(small_store: EncryptedStore, size: int) -> None:
    key = small_store.new_data_key()
    data = os.urandom(size)
    put(small_store, "b", data, key)
    assert get(small_store, "b", key) == data
    with small_store.open_plaintext("b", key, context=CTX) as fh:
        assert fh.size == size and fh.read() == data


def test_plaintext_never_appears_on_disk(store: EncryptedStore) -> None:
    key = store.new_data_key()
    put(store, "raw-1", (b"name,id\n" + MARKER + b"\n") * 1000, key)
    raw = (store.root / "raw-1").read_bytes()
    assert MARKER not in raw and MARKER[:16] not in raw and key not in raw


def test_open_plaintext_seeks_so_parquet_reads_streaming(small_store: EncryptedStore) -> None:
    key = small_store.new_data_key()
    table = pa.table({"id": list(range(5000)), "name": [f"n{i}" for i in range(5000)]})
    with small_store.writer("p", key, context=CTX) as w:
        pq.write_table(table, w, row_group_size=1000)
    with small_store.open_plaintext("p", key, context=CTX) as fh:
        pf = pq.ParquetFile(fh)
        assert pf.metadata.num_row_groups == 5
        assert pa.Table.from_batches(pf.iter_batches(batch_size=700)).equals(table)


def flip_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("offset", [0, 5, HEADER_SIZE, HEADER_SIZE + SMALL + 3, -1])
def test_one_flipped_byte_is_detected(small_store: EncryptedStore, offset: int) -> None:
    key = small_store.new_data_key()
    put(small_store, "b", os.urandom(3 * SMALL), key)
    flip_byte(small_store.root / "b", offset)
    with pytest.raises(CryptoError):
        get(small_store, "b", key)


@pytest.mark.parametrize("cut", [1, TAG_SIZE, SMALL + TAG_SIZE, 2 * (SMALL + TAG_SIZE)])
def test_truncation_is_detected_even_at_a_chunk_boundary(
    small_store: EncryptedStore, cut: int
) -> None:
    key = small_store.new_data_key()
    put(small_store, "b", os.urandom(3 * SMALL), key)
    path = small_store.root / "b"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(CryptoError):
        get(small_store, "b", key)


def chunk_spans(path: Path) -> list[bytes]:
    body = path.read_bytes()[HEADER_SIZE:]
    stride = SMALL + TAG_SIZE
    return [body[i : i + stride] for i in range(0, len(body), stride)]


def test_reordered_chunks_are_detected(small_store: EncryptedStore) -> None:
    key = small_store.new_data_key()
    put(small_store, "b", os.urandom(3 * SMALL + 5), key)
    path = small_store.root / "b"
    header = path.read_bytes()[:HEADER_SIZE]
    c = chunk_spans(path)
    path.write_bytes(header + c[1] + c[0] + c[2] + c[3])
    with pytest.raises(CryptoError, match="chunk 0"):
        get(small_store, "b", key)


def test_chunks_swapped_between_files_are_detected(small_store: EncryptedStore) -> None:
    key = small_store.new_data_key()  # even under the same key and context
    put(small_store, "a", os.urandom(3 * SMALL), key)
    put(small_store, "b", os.urandom(3 * SMALL), key)
    a, b = small_store.root / "a", small_store.root / "b"
    ca, cb = chunk_spans(a), chunk_spans(b)
    b.write_bytes(b.read_bytes()[:HEADER_SIZE] + cb[0] + ca[1] + cb[2])
    with pytest.raises(CryptoError, match="chunk 1"):
        get(small_store, "b", key)


def test_wrong_context_or_data_key_is_rejected(store: EncryptedStore) -> None:
    key = store.new_data_key()
    put(store, "b", b"hello", key)
    with pytest.raises(CryptoError, match="wrong data key or context"):
        get(store, "b", key, context=b"dataset:other")
    with pytest.raises(CryptoError):
        get(store, "b", store.new_data_key())


def test_wrong_master_key_cannot_unwrap_the_data_key(tmp_path: Path) -> None:
    store = EncryptedStore(tmp_path, MasterKey.generate())
    key = store.new_data_key()
    wrapped = store.wrap_data_key(key, context=CTX)
    put(store, "b", b"hello", key)
    assert get(store, "b", store.unwrap_data_key(wrapped, context=CTX)) == b"hello"
    other = EncryptedStore(tmp_path, MasterKey.generate())
    with pytest.raises(CryptoError, match="data key could not be unwrapped"):
        other.unwrap_data_key(wrapped, context=CTX)


def test_failed_write_leaves_nothing_behind(store: EncryptedStore) -> None:
    key = store.new_data_key()
    with pytest.raises(RuntimeError), store.writer("b", key, context=CTX) as w:
        w.write(os.urandom(3 * 1024 * 1024))
        raise RuntimeError("upload interrupted")
    assert not store.exists("b") and list(store.root.iterdir()) == []


def test_blob_appears_only_on_close_and_abort_discards(store: EncryptedStore) -> None:
    key = store.new_data_key()
    w = store.writer("b", key, context=CTX)
    w.write(b"data")
    assert not store.exists("b")
    w.abort()
    assert not store.exists("b") and list(store.root.iterdir()) == []
    put(store, "b", b"old", key)
    w = store.writer("b", key, context=CTX)
    w.write(b"new")
    del w  # abandoned without close: the old blob stays
    assert get(store, "b", key) == b"old"


def test_delete_and_exists(store: EncryptedStore) -> None:
    key = store.new_data_key()
    put(store, "b", b"x", key)
    assert store.exists("b")
    assert store.delete("b") is True
    assert not store.exists("b") and store.delete("b") is False
    with pytest.raises(FileNotFoundError, match="no stored blob named 'b'"):
        store.open_plaintext("b", key, context=CTX)


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden", "..", "a\x00b", "x" * 200])
def test_names_that_could_escape_the_store_are_refused(store: EncryptedStore, name: str) -> None:
    with pytest.raises(ValueError, match="invalid blob name"):
        store.writer(name, store.new_data_key(), context=CTX)
    with pytest.raises(ValueError, match="invalid blob name"):
        store.exists(name)


def test_repr_of_store_and_writer_hide_keys(store: EncryptedStore) -> None:
    key = store.new_data_key()
    with store.writer("b", key, context=CTX) as w:
        assert key.hex() not in repr(w)
    assert "key_id" in repr(store) and key.hex() not in repr(store)
