"""Access to a dataset's raw data: decrypted on the fly, never written in clear.

Each upload is kept twice, both encrypted under the dataset's data key: the file
exactly as uploaded (its hash is the provenance in every receipt) and a normalised
Parquet table with the column types fixed once at upload, which every later step
(previews, extracts, DP queries) reads column by column and batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from exchange.context import Exchange
from exchange.db.models import Dataset
from exchange.ingest import iter_tables

BATCH_ROWS = 100_000


def raw_context(dataset_id: str) -> bytes:
    """Associated data that binds a raw file and its wrapped key to one dataset."""
    return f"dataset:{dataset_id}".encode()


def table_context(dataset_id: str) -> bytes:
    return f"dataset-table:{dataset_id}".encode()


def table_name(dataset_id: str) -> str:
    return f"table-{dataset_id}"


def data_key(exchange: Exchange, dataset: Dataset) -> bytes:
    return exchange.master.unwrap(dataset.wrapped_key, context=raw_context(dataset.id))


def write_table(
    exchange: Exchange, dataset_id: str, key: bytes, tables: Iterable[pa.Table]
) -> Iterator[pa.Table]:
    """Pass ``tables`` (of one schema) through while writing them to the encrypted Parquet
    table."""
    writer = exchange.store.writer(table_name(dataset_id), key, context=table_context(dataset_id))
    parquet: pq.ParquetWriter | None = None
    try:
        for table in tables:
            parquet = parquet or pq.ParquetWriter(writer, table.schema)
            parquet.write_table(table)
            yield table
        if parquet is not None:
            parquet.close()
        writer.close()
    except BaseException:
        writer.abort()
        raise


def ensure_table(exchange: Exchange, dataset: Dataset, key: bytes) -> None:
    """Datasets stored before the normalised table existed get it from their upload."""
    if exchange.store.exists(table_name(dataset.id)):
        return
    with exchange.store.open_plaintext(
        dataset.storage_name, key, context=raw_context(dataset.id)
    ) as fh:
        tables = iter_tables(
            cast(BinaryIO, fh),  # a RawIOBase, which pyarrow and csv read like any binary file
            fmt=dataset.fmt,
            encoding=dataset.encoding,
            delimiter=(dataset.profile or {}).get("csv_delimiter"),
            batch_rows=BATCH_ROWS,
            limits=exchange.settings.upload_limits,
        )
        for _ in write_table(exchange, dataset.id, key, tables):
            pass


@contextmanager
def open_table(exchange: Exchange, dataset: Dataset) -> Iterator[pq.ParquetFile]:
    """The normalised table, decrypted on the fly as it is read."""
    key = data_key(exchange, dataset)
    ensure_table(exchange, dataset, key)
    with exchange.store.open_plaintext(
        table_name(dataset.id), key, context=table_context(dataset.id)
    ) as fh:
        yield pq.ParquetFile(fh)


def iter_raw(
    exchange: Exchange,
    dataset: Dataset,
    *,
    columns: list[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pd.DataFrame]:
    with open_table(exchange, dataset) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
            yield _pandas(batch)


def read_raw(
    exchange: Exchange,
    dataset: Dataset,
    *,
    max_rows: int | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The raw table (or its first ``max_rows`` rows, or some columns) in memory only."""
    parts: list[pd.DataFrame] = []
    rows = 0
    for batch in iter_raw(
        exchange, dataset, columns=columns, batch_rows=min(max_rows or BATCH_ROWS, BATCH_ROWS)
    ):
        parts.append(batch)
        rows += len(batch)
        if max_rows is not None and rows >= max_rows:
            break
    if not parts:
        with open_table(exchange, dataset) as parquet:
            schema = parquet.schema_arrow
        names = columns or schema.names
        return _pandas(pa.Table.from_batches([], schema=schema).select(names))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.head(max_rows) if max_rows is not None else frame


def _pandas(data: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    # The schema carries pandas metadata, so nullable Int64 and tz-aware columns come back.
    return data.to_pandas()
