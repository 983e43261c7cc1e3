"""Parquet uploads as DataFrames, batch by batch, with the same dtypes in every batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exchange.ingest.column_types import NULLABLE
from exchange.ingest.errors import UploadError
from exchange.ingest.header import check_names

__all__ = ["parquet_frames"]


def parquet_frames(
    fh: BinaryIO, batch_rows: int, max_rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """Frames of up to ``batch_rows`` rows (at least one, maybe empty)."""
    try:
        pf = pq.ParquetFile(fh)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError):
        raise UploadError("the file is not a readable Parquet file") from None
    check_names(list(schema.names))
    nullable = _nullable_columns(pf)
    rows = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            if max_rows is not None and rows + batch.num_rows > max_rows:
                batch = batch.slice(0, max_rows - rows)
            rows += batch.num_rows
            yield _to_pandas(pa.Table.from_batches([batch], schema), nullable)
            if max_rows is not None and rows >= max_rows:
                return
    except (pa.ArrowException, OSError):
        raise UploadError(f"the Parquet file is damaged after row {rows}") from None
    if rows == 0:
        yield _to_pandas(schema.empty_table(), nullable)


def _nullable_columns(pf: pq.ParquetFile) -> set[str]:
    """Columns with missing values anywhere, by the row-group statistics (unknown counts as yes).

    Deciding per file, not per batch, keeps an integer column int64 or Int64 in every
    batch instead of flipping to float64 in the batches that happen to hold a gap.
    """
    meta, found = pf.metadata, set()
    for rg in range(meta.num_row_groups):
        for col in range(meta.num_columns):
            chunk = meta.row_group(rg).column(col)
            stats = chunk.statistics
            if stats is None or not stats.has_null_count or stats.null_count > 0:
                found.add(chunk.path_in_schema.split(".")[0])
    return found


def _to_pandas(table: pa.Table, nullable: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: table.column(name).to_pandas(
                types_mapper=NULLABLE.get if name in nullable else None
            )
            for name in table.column_names
        }
    )
