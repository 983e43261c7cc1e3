"""Limits on what an upload expands to, counted while it is read.

The upload limit counts the bytes sent; a few KB of Parquet can decode to
gigabytes (a dictionary of one long string, repeated millions of times). So rows,
columns, decoded bytes and the longest cell are counted as the file is read, and
reading stops at the first limit passed, before the expansion is held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from exchange.ingest.errors import UploadError, UploadTooLarge

__all__ = ["Limits", "Tally", "decoded_size"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds on an upload's table; None means unbounded."""

    rows: int | None = None
    columns: int | None = None
    decoded_bytes: int | None = None  # Arrow's in-memory size: text bytes plus offsets
    cell_bytes: int | None = None

    def check_columns(self, count: int) -> None:
        if self.columns is not None and count > self.columns:
            raise UploadError(
                f"the file has {count} columns, above the limit of {self.columns} columns "
                "(DATALEASE_MAX_COLUMNS): split it into narrower tables"
            )

    def check_rows(self, count: int) -> None:
        if self.rows is not None and count > self.rows:
            raise UploadTooLarge(
                f"the file has more than {self.rows} rows, the limit (DATALEASE_MAX_ROWS)"
            )

    def check_decoded(self, size: int, *, at_least: bool = False) -> None:
        if self.decoded_bytes is not None and size > self.decoded_bytes:
            amount = "at least " if at_least else "more than "
            raise UploadTooLarge(
                f"the file decodes to {amount}{size if at_least else self.decoded_bytes} bytes, "
                f"above the limit of {self.decoded_bytes} bytes (DATALEASE_MAX_DECODED_BYTES)"
            )

    def check_cell(self, column: str, size: int) -> None:
        if self.cell_bytes is not None and size > self.cell_bytes:
            raise UploadError(
                f"column {column!r} has a value of {size} bytes, above the limit of "
                f"{self.cell_bytes} bytes per cell (DATALEASE_MAX_CELL_BYTES)"
            )


class Tally:
    """Rows and decoded bytes read so far, checked against ``limits`` at every batch."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.rows = 0
        self.decoded_bytes = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> int:
        """Count ``batch`` (dictionary columns as if decoded); returns its decoded size."""
        self.rows += batch.num_rows
        self.limits.check_rows(self.rows)
        size = 0
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            column_size, longest = decoded_size(column, self.limits.cell_bytes)
            size += column_size
            if longest is not None:
                self.limits.check_cell(name, longest)
        self.decoded_bytes += size
        self.limits.check_decoded(self.decoded_bytes)
        return size


def decoded_size(
    column: pa.Array | pa.ChunkedArray, cell_limit: int | None = None
) -> tuple[int, int | None]:
    """The column's size once decoded, and its longest text value if it could pass ``cell_limit``.

    A dictionary column is measured without being decoded: the length of each row's
    dictionary entry, summed, plus the offsets a plain string array would need.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    size, longest = 0, None
    for chunk in chunks:
        if isinstance(chunk, pa.DictionaryArray) and _is_text(chunk.type.value_type):
            lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
            size += (pc.sum(lengths).as_py() or 0) + 4 * len(chunk)
            longest = _max(longest, pc.max(lengths).as_py())
        else:
            size += chunk.nbytes
            # A value cannot be longer than the whole array: only then is it worth measuring.
            if _is_text(chunk.type) and (cell_limit is None or chunk.nbytes > cell_limit):
                longest = _max(longest, pc.max(pc.binary_length(chunk)).as_py())
    return size, longest


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
