"""Parquet uploads as DataFrames, batch by batch, with the same dtypes in every batch.

A Parquet file says in its footer how many rows and columns it holds and how
large its pages are once decompressed, so those limits are checked before any
page is read. Dictionary encoding can still hide an expansion the footer does
not show (one long string, repeated millions of times, costs a few bytes per
row on disk): text columns are therefore read as dictionaries and measured as if
decoded in a first pass that holds only dictionary indices, and decoded batch by
batch only once the whole file is known to be within the limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exchange.ingest.column_types import NULLABLE
from exchange.ingest.errors import UploadError
from exchange.ingest.header import check_names
from exchange.ingest.limits import Limits, Tally, decoded_size

__all__ = ["parquet_frames"]

PIECE_BYTES = 64 << 20  # a batch decoded at once is at most about this large
MEASURE_ROWS = 1 << 16
# Bytes per value once decoded, by physical type; text is measured from its pages.
_WIDTH = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


def parquet_frames(
    fh: BinaryIO, batch_rows: int, max_rows: int | None = None, limits: Limits | None = None
) -> Iterator[pd.DataFrame]:
    """Frames of up to ``batch_rows`` rows (at least one, maybe empty)."""
    limits = limits or Limits()
    try:
        pf = pq.ParquetFile(fh)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError):
        raise UploadError("the file is not a readable Parquet file") from None
    check_names(list(schema.names))
    _check_footer(pf, schema, limits)
    nullable = _nullable_columns(pf)
    text = [f.name for f in schema if _is_plain_text(f.type)]
    if text:
        pf = pq.ParquetFile(fh, read_dictionary=text)
    rows = 0
    try:
        _measure(pf, schema, max_rows, limits)
        for batch in pf.iter_batches(batch_size=batch_rows):
            if max_rows is not None and rows + batch.num_rows > max_rows:
                batch = batch.slice(0, max_rows - rows)
            rows += batch.num_rows
            for piece in _pieces(batch):
                yield _to_pandas(_decoded(piece, schema), nullable)
            if max_rows is not None and rows >= max_rows:
                return
    except (pa.ArrowException, OSError):
        raise UploadError(f"the Parquet file is damaged after row {rows}") from None
    if rows == 0:
        yield _to_pandas(schema.empty_table(), nullable)


def _check_footer(pf: pq.ParquetFile, schema: pa.Schema, limits: Limits) -> None:
    """Refuse by the footer alone: nested columns, too many rows or columns, pages too large."""
    for f in schema:
        if pa.types.is_nested(f.type):
            raise UploadError(
                f"column {f.name!r} is nested ({f.type}): upload a flat table of plain columns"
            )
    meta = pf.metadata
    limits.check_columns(meta.num_columns)
    limits.check_rows(meta.num_rows)
    limits.check_decoded(_footer_bytes(meta), at_least=True)


def _footer_bytes(meta: pq.FileMetaData, skip: frozenset[str] = frozenset()) -> int:
    """What the columns not in ``skip`` decode to at least, by the footer: their pages
    decompressed, or their values times their width if that is more."""
    total = 0
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for col in range(group.num_columns):
            chunk = group.column(col)
            if chunk.path_in_schema not in skip:
                width = _WIDTH.get(chunk.physical_type, 0)
                total += max(chunk.total_uncompressed_size, width * chunk.num_values)
    return total


def _measure(pf: pq.ParquetFile, schema: pa.Schema, max_rows: int | None, limits: Limits) -> None:
    """Count the decoded size of the whole file (or its first ``max_rows`` rows) against
    ``limits``: fixed-width columns from the footer, text columns from their indices."""
    if limits.decoded_bytes is None and limits.cell_bytes is None:
        return
    measured = [f.name for f in schema if _is_text(f.type)]
    tally = Tally(limits)
    tally.decoded_bytes = _footer_bytes(pf.metadata, frozenset(measured))
    if not measured:
        return
    for batch in pf.iter_batches(batch_size=MEASURE_ROWS, columns=measured):
        tally.add(batch)
        if max_rows is not None and tally.rows >= max_rows:
            return


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return _is_plain_text(kind)


def _is_plain_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _pieces(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    """``batch`` cut into row ranges of about PIECE_BYTES each once decoded."""
    size = sum(decoded_size(column)[0] for column in batch.columns)
    count = max(1, -(-size // PIECE_BYTES))
    step = max(1, -(-batch.num_rows // count))
    if count == 1 or batch.num_rows <= 1:
        yield batch
        return
    for start in range(0, batch.num_rows, step):
        yield batch.slice(start, step)


def _decoded(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """The batch with the columns read as dictionaries decoded back to their own type."""
    arrays = [
        column.dictionary_decode()
        if isinstance(column, pa.DictionaryArray) and not pa.types.is_dictionary(field.type)
        else column
        for column, field in zip(batch.columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


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
