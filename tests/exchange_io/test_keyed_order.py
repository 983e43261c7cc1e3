"""The extract's keyed row order in bounded memory, and its batch-by-batch lease values."""

from __future__ import annotations

import secrets

import numpy as np
import pyarrow as pa
import pytest

from desensitize import Keyring
from desensitize.watermark import dither
from exchange.crypto.master import MasterKey
from exchange.crypto.store import EncryptedStore
from exchange.services.extracts import _dither
from exchange.services.keyed_order import KeyedOrder, ranks

ROWS = 10_007
KEY = b"k" * 32


@pytest.fixture
def store(tmp_path) -> EncryptedStore:
    return EncryptedStore(tmp_path / "store", MasterKey(secrets.token_bytes(32)))


def _ordered(store: EncryptedStore, *, bucket_rows: int, batch: int, rows: np.ndarray) -> pa.Table:
    names = pa.array(["north", "south", "east", "west"])
    with KeyedOrder(store, KEY, len(rows), "extract-t", bucket_rows=bucket_rows) as order:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            order.add(
                pa.record_batch(
                    {"row": pa.array(part), "district": names.take(part % 4).dictionary_encode()}
                ),
                part,
            )
        return pa.Table.from_batches(list(order.batches()))


def test_the_order_is_the_same_in_memory_and_through_any_number_of_buckets(store) -> None:
    rows = np.arange(ROWS)
    whole = _ordered(store, bucket_rows=ROWS, batch=ROWS, rows=rows)
    for bucket_rows, batch in ((500, 333), (3_000, 1_000), (ROWS // 2, 4_096)):
        assert _ordered(store, bucket_rows=bucket_rows, batch=batch, rows=rows).equals(whole)
    assert store.blob_names() == [] and store.temp_files() == []


def test_the_order_is_by_keyed_rank_whatever_order_rows_arrive_in(store) -> None:
    arriving = np.random.default_rng(3).permutation(ROWS)
    out = _ordered(store, bucket_rows=700, batch=512, rows=arriving)
    positions = out.column("row").to_numpy()
    assert sorted(positions) == list(range(ROWS))
    assert (np.diff(ranks(KEY, positions).astype(np.float64)) >= 0).all()
    assert abs(np.corrcoef(positions, np.arange(ROWS))[0, 1]) < 0.05
    assert out.column("district").to_pylist()[:50] == [
        ["north", "south", "east", "west"][p % 4] for p in positions[:50]
    ]


def test_a_failed_run_leaves_no_bucket_behind(store) -> None:
    rows = np.arange(ROWS)
    with (
        pytest.raises(RuntimeError),
        KeyedOrder(store, KEY, ROWS, "extract-t", bucket_rows=999) as order,
    ):
        order.add(pa.record_batch({"row": pa.array(rows)}), rows)
        assert store.temp_files()  # dealt into buckets not yet closed
        raise RuntimeError("stopped")
    assert store.blob_names() == [] and store.temp_files() == []


def test_a_dither_made_batch_by_batch_is_the_librarys_for_the_whole_column() -> None:
    keys = Keyring(secrets.token_bytes(32))
    generator = np.random.default_rng(1)
    values = pa.array(generator.normal(50, 30, ROWS), mask=generator.random(ROWS) < 0.05)
    rows = np.sort(generator.choice(3 * ROWS, ROWS, replace=False))  # suppressed rows are gaps
    whole = dither(values, rows, keys, "income", (0.0, 100.0))
    parts = [
        _dither(values[s : s + 777], rows[s : s + 777], keys, "income", (0.0, 100.0))
        for s in range(0, ROWS, 777)
    ]
    assert pa.concat_arrays(parts).equals(whole)
    assert _dither(values[:0], rows[:0], keys, "income", (0.0, 100.0)).equals(whole[:0])
