"""Read an upload (a path or a binary file) as one DataFrame or as a stream of batches."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO, TypeVar

import pandas as pd
import pyarrow as pa

from exchange.ingest.column_types import Kinds, infer_kinds, pinned_kinds, to_frame, to_table
from exchange.ingest.csv_text import CsvFile
from exchange.ingest.limits import Limits
from exchange.ingest.parquet import parquet_frames

__all__ = ["DEFAULT_BATCH_ROWS", "Source", "iter_batches", "iter_tables", "read_table"]

Source = str | os.PathLike[str] | BinaryIO
DEFAULT_BATCH_ROWS = 100_000
T = TypeVar("T")


def read_table(
    source: Source,
    *,
    fmt: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_rows: int | None = None,
    dtypes: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> pd.DataFrame:
    """The whole table, or its first ``max_rows`` rows, as one DataFrame.

    CSV types are inferred from the rows read (as pandas' ``nrows`` does), unless
    ``dtypes`` pins them: column -> dtype name as reported by an earlier full read,
    so that a preview gets the same types as the whole file.
    """
    batch_rows = max_rows or DEFAULT_BATCH_ROWS
    frames = list(
        _frames(
            source, fmt, encoding, delimiter, batch_rows, max_rows, dtypes, limits, False, to_frame
        )
    )
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def iter_batches(
    source: Source,
    *,
    fmt: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    dtypes: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> Iterator[pd.DataFrame]:
    """DataFrames of up to ``batch_rows`` rows, all with the same dtypes, in bounded memory.

    At least one (possibly empty) frame is yielded, so the columns are always known.
    CSV types come from a first pass over the whole file when the source can seek;
    otherwise from the first batch, and a later value that does not fit is an
    UploadError. ``encoding`` and ``delimiter`` (detected when None) are ignored for
    Parquet. Passing a limit in ``limits`` is an UploadError (UploadTooLarge for rows and
    decoded bytes), raised before the expansion is held in memory.
    """
    yield from _frames(
        source, fmt, encoding, delimiter, batch_rows, None, dtypes, limits, True, to_frame
    )


def iter_tables(
    source: Source,
    *,
    fmt: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    limits: Limits | None = None,
) -> Iterator[pa.Table]:
    """:func:`iter_batches` as Arrow tables, all of one schema carrying pandas metadata:
    ``table.to_pandas()`` is the frame :func:`iter_batches` yields.

    CSV text is converted in Arrow (only the first batch goes through pandas, for the
    schema's metadata), which is faster and holds no Python object per cell."""
    schema: pa.Schema | None = None

    def convert(table: pa.Table, kinds: Kinds) -> pa.Table:
        nonlocal schema
        if schema is None:
            first = pa.Table.from_pandas(to_frame(table, kinds), preserve_index=False)
            # A text column with no value in the first batch has no Arrow type of its own yet.
            schema = first.schema
            for i, field in enumerate(schema):
                if pa.types.is_null(field.type) and kinds[field.name][0] == "string":
                    schema = schema.set(i, field.with_type(pa.string()))
            first = first.cast(schema)
            return first
        return to_table(table, kinds, schema)

    for batch in _frames(
        source, fmt, encoding, delimiter, batch_rows, None, None, limits, True, convert
    ):
        if isinstance(batch, pd.DataFrame):  # Parquet uploads are decoded through pandas
            batch = pa.Table.from_pandas(batch, schema=schema, preserve_index=False)
            schema = schema or batch.schema
        yield batch


def _frames(
    source: Source,
    fmt: str,
    encoding: str | None,
    delimiter: str | None,
    batch_rows: int,
    max_rows: int | None,
    dtypes: Mapping[str, str] | None,
    limits: Limits | None,
    whole_file: bool,
    convert: Callable[[pa.Table, Kinds], T],
) -> Iterator[T | pd.DataFrame]:
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    with _opened(source) as fh:
        if fmt == "parquet":
            yield from parquet_frames(fh, batch_rows, max_rows, limits)
            return
        csv_file = CsvFile(fh, encoding, delimiter, limits)
        kinds = pinned_kinds(csv_file.names, dtypes) if dtypes else None
        if kinds is None and not whole_file:
            # Everything read is in memory anyway: infer over it in the same pass.
            tables = list(csv_file.tables(batch_rows, max_rows))
            kinds = infer_kinds(csv_file.names, tables)
            yield from (convert(t, kinds) for t in tables)
            return
        if kinds is None and csv_file.rereadable:
            kinds = infer_kinds(csv_file.names, csv_file.tables(batch_rows, max_rows))
        for table in csv_file.tables(batch_rows, max_rows):
            kinds = kinds or infer_kinds(csv_file.names, [table])
            yield convert(table, kinds)


@contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    else:
        yield source
