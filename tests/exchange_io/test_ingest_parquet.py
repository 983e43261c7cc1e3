"""Reading Parquet uploads."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.ingest import UploadError, iter_batches, read_table


def parquet_bytes(table: pa.Table, **kwargs: object) -> io.BytesIO:
    out = io.BytesIO()
    pq.write_table(table, out, **kwargs)  # type: ignore[arg-type]
    out.seek(0)
    return out


def test_parquet_round_trips_with_its_types() -> None:
    frame = pd.DataFrame(
        {
            "id": ["001", "002", "003"],
            "n": [1, 2, 3],
            "x": [0.5, None, 2.0],
            "at": pd.to_datetime(["2026-11-02T08:00Z", "2026-11-03T09:00Z", None]),
            "name": ["张三", None, "王五"],
        }
    )
    back = read_table(
        parquet_bytes(pa.Table.from_pandas(frame, preserve_index=False)), fmt="parquet"
    )
    pd.testing.assert_frame_equal(back, frame)


def test_parquet_batches_share_dtypes_even_if_gaps_come_late() -> None:
    table = pa.table(
        {"n": [1, 2, 3, 4, None], "flag": [True, False, True, True, None], "k": [1, 2, 3, 4, 5]}
    )
    batches = list(
        iter_batches(
            parquet_bytes(table, row_group_size=2), fmt="parquet", encoding="binary", batch_rows=2
        )
    )
    assert [len(b) for b in batches] == [2, 2, 1]
    for batch in batches:
        assert batch.dtypes.astype(str).tolist() == ["Int64", "boolean", "int64"]


def test_empty_parquet_gives_the_columns_and_max_rows_limits() -> None:
    empty = read_table(parquet_bytes(pa.table({"a": pa.array([], pa.int64())})), fmt="parquet")
    assert list(empty.columns) == ["a"] and len(empty) == 0
    table = pa.table({"a": list(range(100))})
    assert read_table(parquet_bytes(table), fmt="parquet", max_rows=30)["a"].tolist() == list(
        range(30)
    )


@pytest.mark.parametrize("data", [b"PAR1 not really parquet", b"PAR1" + bytes(100) + b"PAR1"])
def test_broken_parquet_is_an_upload_error(data: bytes) -> None:
    with pytest.raises(UploadError, match="not a readable Parquet file"):
        read_table(io.BytesIO(data), fmt="parquet")


def test_damaged_parquet_data_is_an_upload_error() -> None:
    raw = bytearray(
        parquet_bytes(
            pa.table({"s": [f"value-{i}" for i in range(2000)]}), compression="snappy"
        ).getvalue()
    )
    raw[200:400] = bytes(200)
    with pytest.raises(UploadError):
        read_table(io.BytesIO(bytes(raw)), fmt="parquet")


def test_parquet_with_duplicate_column_names_is_refused() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(UploadError, match="same name 'a'"):
        read_table(parquet_bytes(table), fmt="parquet")
