"""Releases made, and DP queries answered, on a Dask cluster, when
`DATALEASE_DASK_SCHEDULER` names one.

The workers read the dataset's sealed Parquet table where the store keeps it (the
data directory must be shared with them, e.g. over NFS, at the same path) and decrypt
it in memory; each piece of the release is sealed under a key of its own into a
directory beside the store, and the exchange then joins the pieces, in order, into the one
release blob every lease is projected from. Data keys and the release keyring reach
the workers only inside worker plugins (see desensitize.distributed): never in a task,
never on a worker's disk.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyarrow.parquet as pq

from desensitize import Keyring, Policy, Report
from desensitize.dp import Answer, Contribution, Query
from exchange.context import Exchange
from exchange.crypto.blob_format import DEFAULT_CHUNK_SIZE
from exchange.crypto.reader import BlobReader
from exchange.crypto.writer import EncryptedWriter
from exchange.db.models import Dataset
from exchange.services.raw import data_key, ensure_table, table_context, table_name

_PIECE_CONTEXT = b"release-piece"
PIECE_ROWS = 1_000_000  # the sealed table is one file: pieces are runs of its row groups


class StoreCodec:
    """Opens the dataset's sealed table, and seals release pieces under a key of their own
    (a `desensitize.distributed.Codec`; workers import it from here)."""

    def __init__(
        self, table: str, table_key: bytes, table_context: bytes, piece_key: bytes = b""
    ) -> None:
        self.table, self.table_key, self.table_context = table, table_key, table_context
        self.piece_key = piece_key

    def reader(self, fs: Any, path: str) -> BinaryIO:
        if Path(path).name == self.table:
            reader = BlobReader(Path(path), self.table, self.table_key, context=self.table_context)
        else:  # a sealed piece of the release
            reader = BlobReader(Path(path), Path(path).name, self.piece_key, context=_PIECE_CONTEXT)
        return cast(BinaryIO, reader)

    def writer(self, fs: Any, path: str) -> BinaryIO:
        if not self.piece_key:
            raise RuntimeError("this codec only reads: it was given no key for pieces")
        name = Path(path).name
        writer = EncryptedWriter(
            Path(path), name, self.piece_key, context=_PIECE_CONTEXT, chunk_size=DEFAULT_CHUNK_SIZE
        )
        return cast(BinaryIO, writer)


def build_release(
    exchange: Exchange,
    table: str,
    table_key: bytes,
    table_context: bytes,
    policy: Policy,
    keys: Keyring,
    sink: BinaryIO,
    *,
    row_ids: str,
) -> Report:
    """Desensitize the sealed table `table` on the configured cluster into `sink` (one
    Parquet file, as `apply_batches` writes it)."""
    from desensitize.distributed import apply_dask

    store = exchange.store
    work = exchange.settings.data_dir / "cluster" / f"{table}-{secrets.token_hex(8)}"
    codec = StoreCodec(table, table_key, table_context, store.new_data_key())
    try:
        report = apply_dask(
            str(store.root / table),
            str(work),
            policy,
            keys,
            client=exchange.settings.dask_scheduler,
            row_ids=row_ids,
            codec=codec,
            piece_rows=PIECE_ROWS,
        )
        writer: pq.ParquetWriter | None = None
        for piece in sorted(work.glob("part-*.parquet")):
            with codec.reader(None, str(piece)) as fh:
                file = pq.ParquetFile(fh)
                writer = writer or pq.ParquetWriter(sink, file.schema_arrow)
                for batch in file.iter_batches(65_536):
                    writer.write_batch(batch)
        if writer is not None:
            writer.close()
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def answer_query(
    exchange: Exchange, dataset: Dataset, query: Query, contribution: Contribution, key: bytes
) -> Answer:
    """The DP answer to `query` over the dataset's sealed table, bounded and tallied on the
    configured cluster (see desensitize.dp.distributed); the noise is drawn here."""
    from desensitize.dp.distributed import answer_query_dask

    table_key = data_key(exchange, dataset)
    ensure_table(exchange, dataset, table_key)
    table = table_name(dataset.id)
    return answer_query_dask(
        str(exchange.store.root / table),
        query,
        contribution=contribution,
        key=key,
        client=exchange.settings.dask_scheduler,
        codec=StoreCodec(table, table_key, table_context(dataset.id)),
        piece_rows=PIECE_ROWS,
    )
