"""Access to a dataset's encrypted raw file: decrypt on the fly, never to disk."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from exchange.context import Exchange
from exchange.db.models import Dataset
from exchange.ingest import iter_batches, read_table


def raw_context(dataset_id: str) -> bytes:
    """Associated data that binds a raw file and its wrapped key to one dataset."""
    return f"dataset:{dataset_id}".encode()


def _context(dataset: Dataset) -> bytes:
    return raw_context(dataset.id)


def data_key(exchange: Exchange, dataset: Dataset) -> bytes:
    return exchange.master.unwrap(dataset.wrapped_key, context=_context(dataset))


def read_raw(exchange: Exchange, dataset: Dataset, *, max_rows: int | None = None) -> pd.DataFrame:
    """The raw table (or its first ``max_rows`` rows) as a DataFrame, in memory only."""
    key = data_key(exchange, dataset)
    with exchange.store.open_plaintext(dataset.storage_name, key, context=_context(dataset)) as fh:
        return read_table(fh, fmt=dataset.fmt, encoding=dataset.encoding, max_rows=max_rows)


def iter_raw(
    exchange: Exchange, dataset: Dataset, *, batch_rows: int = 100_000
) -> Iterator[pd.DataFrame]:
    key = data_key(exchange, dataset)
    with exchange.store.open_plaintext(dataset.storage_name, key, context=_context(dataset)) as fh:
        yield from iter_batches(
            fh, fmt=dataset.fmt, encoding=dataset.encoding, batch_rows=batch_rows
        )
