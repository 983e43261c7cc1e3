"""Limits on what an upload expands to, checked before the expansion is held in memory."""

from __future__ import annotations

import io
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.ingest import Limits, UploadError, UploadTooLarge, read_table

MB = 1 << 20


def parquet_bytes(table: pa.Table, **kwargs: object) -> io.BytesIO:
    out = io.BytesIO()
    pq.write_table(table, out, **kwargs)  # type: ignore[arg-type]
    out.seek(0)
    return out


def test_compressed_plain_pages_are_refused_by_the_footer_before_any_page_is_read() -> None:
    table = pa.table({"note": ["x" * 1024] * 40_000})  # 40 MB of text, kilobytes on disk
    data = parquet_bytes(table, use_dictionary=False, compression="zstd")
    assert len(data.getvalue()) < 100_000
    with pytest.raises(UploadTooLarge, match=r"decodes to at least \d+ bytes"):
        read_table(data, fmt="parquet", limits=Limits(decoded_bytes=10 * MB))


def test_dictionary_bomb_is_measured_from_its_indices_without_decoding() -> None:
    rows = 1_000_000
    column = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["y" * 4096])
    )
    data = parquet_bytes(pa.table({"note": column}), compression="zstd", store_schema=False)
    pool = pa.default_memory_pool()
    started, before = time.monotonic(), pool.max_memory() or 0
    with pytest.raises(UploadTooLarge, match="DATALEASE_MAX_DECODED_BYTES"):
        read_table(data, fmt="parquet", limits=Limits(decoded_bytes=256 * MB))
    assert time.monotonic() - started < 5
    # 4 GB once decoded; reading held little more than its dictionary indices.
    assert (pool.max_memory() or 0) - before < 64 * MB


@pytest.mark.parametrize(
    ("limits", "error", "problem"),
    [
        (Limits(rows=99), UploadTooLarge, "more than 99 rows"),
        (Limits(columns=1), UploadError, "2 columns, above the limit of 1"),
        (Limits(cell_bytes=10), UploadError, "column 'b' has a value of 20 bytes"),
    ],
)
def test_parquet_past_a_limit_names_it(limits: Limits, error: type, problem: str) -> None:
    table = pa.table({"a": list(range(100)), "b": ["z" * 20] * 100})
    with pytest.raises(error, match=problem):
        read_table(parquet_bytes(table), fmt="parquet", limits=limits)


def test_a_parquet_file_within_the_limits_reads_as_before() -> None:
    table = pa.table({"a": list(range(100)), "b": ["z" * 20] * 100})
    limits = Limits(rows=100, columns=2, decoded_bytes=MB, cell_bytes=20)
    frame = read_table(parquet_bytes(table), fmt="parquet", limits=limits)
    assert frame["b"].tolist() == ["z" * 20] * 100 and frame["a"].dtype == "int64"


def test_nested_parquet_columns_are_refused() -> None:
    table = pa.table({"tags": [["a", "b"], ["c"]]})
    with pytest.raises(UploadError, match="column 'tags' is nested"):
        read_table(parquet_bytes(table), fmt="parquet")


@pytest.mark.parametrize(
    ("data", "limits", "error", "problem"),
    [
        (b"a\n" + b"1\n" * 50, Limits(rows=49), UploadTooLarge, "more than 49 rows"),
        (b"a,b,c\n1,2,3\n", Limits(columns=2), UploadError, "3 columns, above the limit of 2"),
        (b"a,b\n1," + b"w" * 300 + b"\n", Limits(cell_bytes=200), UploadError, "column 'b'"),
        (b"a\n" + b"text\n" * 1000, Limits(decoded_bytes=1000), UploadTooLarge, "decodes to"),
    ],
)
def test_csv_past_a_limit_names_it(data: bytes, limits: Limits, error: type, problem: str) -> None:
    with pytest.raises(error, match=problem):
        read_table(io.BytesIO(data), fmt="csv", limits=limits)
