"""Read an upload (a path or a binary file) as one DataFrame or as a stream of batches."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

import pandas as pd

from exchange.ingest.column_types import infer_kinds, pinned_kinds, to_frame
from exchange.ingest.csv_text import CsvFile
from exchange.ingest.limits import Limits
from exchange.ingest.parquet import parquet_frames

__all__ = ["DEFAULT_BATCH_ROWS", "Source", "iter_batches", "read_table"]

Source = str | os.PathLike[str] | BinaryIO
DEFAULT_BATCH_ROWS = 100_000


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
        _frames(source, fmt, encoding, delimiter, batch_rows, max_rows, dtypes, limits, False)
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
    yield from _frames(source, fmt, encoding, delimiter, batch_rows, None, dtypes, limits, True)


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
) -> Iterator[pd.DataFrame]:
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
            yield from (to_frame(t, kinds) for t in tables)
            return
        if kinds is None and csv_file.rereadable:
            kinds = infer_kinds(csv_file.names, csv_file.tables(batch_rows, max_rows))
        for table in csv_file.tables(batch_rows, max_rows):
            kinds = kinds or infer_kinds(csv_file.names, [table])
            yield to_frame(table, kinds)


@contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    else:
        yield source
