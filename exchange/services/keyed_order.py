"""A keyed shuffle of any number of rows in the memory of one bucket of them.

Each row's rank is AES of its release position under a key of the lease's own (a keyed
pseudo-random permutation of positions), and the rows come out by rank. Ranks are spread
evenly, so rows are first dealt by the top bits of their rank into buckets of about
BUCKET_ROWS rows each, written encrypted under a key that lives only in this object, and
then each bucket is read back, sorted and emitted in turn. Memory holds one batch while
dealing and one bucket while sorting, plus a chunk of buffer per bucket; tables that fit
in one bucket never leave memory.

A position's rank does not depend on which other rows there are or on how they were
batched, so the order is the same for the same key and rows, and owes nothing to the
order rows arrive in. A run that fails or is stopped removes its buckets; buckets left by
a killed process are named like extracts, so the startup sweep removes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from exchange.crypto.store import EncryptedStore
from exchange.memory import give_back

__all__ = ["BUCKET_ROWS", "KeyedOrder", "ranks"]

BUCKET_ROWS = 250_000
OUT_ROWS = 50_000
_RANK = "__rank__"
_ROW = "__position__"
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")  # fast enough to cost less than the disk


def ranks(key: bytes, rows: np.ndarray) -> np.ndarray:
    """Each position's keyed rank: the first 64 bits of AES(key, position)."""
    blocks = np.zeros((len(rows), 2), dtype=">u8")
    blocks[:, 1] = rows
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    sealed = encryptor.update(blocks.tobytes()) + encryptor.finalize()
    return np.frombuffer(sealed, dtype=">u8")[0::2].astype(np.uint64)


class KeyedOrder:
    """Batches of rows in, with each row's distinct position; the same rows out by rank.

    Use as a context manager: leaving it removes whatever buckets are still stored."""

    def __init__(
        self,
        store: EncryptedStore,
        key: bytes,
        rows: int,
        name: str,
        *,
        bucket_rows: int | None = None,
        out_rows: int = OUT_ROWS,
    ) -> None:
        self._store, self._key, self._out_rows = store, key, out_rows
        self.buckets = max(1, -(-rows // (bucket_rows or BUCKET_ROWS)))
        self._name = f"{name}-{secrets.token_hex(4)}-order"
        self._context = self._name.encode()
        self._data_key = store.new_data_key()  # never stored: buckets die with this object
        self._held: list[pa.RecordBatch] = []  # everything, when one bucket holds it
        self._writers: dict[int, tuple[Any, pa.ipc.RecordBatchStreamWriter]] = {}
        self._written: set[int] = set()
        self._schema: pa.Schema | None = None

    def add(self, batch: pa.RecordBatch, rows: np.ndarray) -> None:
        """Rows of ``batch`` at positions ``rows`` (each position given once in all)."""
        rank = ranks(self._key, rows)
        self._schema = self._schema or batch.schema
        tagged = pa.RecordBatch.from_arrays(
            [*batch.columns, pa.array(rank), pa.array(rows, pa.int64())],
            names=[*batch.schema.names, _RANK, _ROW],
        )
        if self.buckets == 1:
            self._held.append(tagged)
            return
        # The top 32 bits of the rank, scaled to the bucket count: bucket b holds a range
        # of ranks, so the buckets one after another are in rank order.
        bucket = ((rank >> np.uint64(32)) * np.uint64(self.buckets)) >> np.uint64(32)
        dealt = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[dealt], np.arange(self.buckets + 1))
        tagged = tagged.take(pa.array(dealt))
        for b in range(self.buckets):
            if bounds[b + 1] > bounds[b]:
                self._write(b, tagged.slice(bounds[b], bounds[b + 1] - bounds[b]))

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows by rank, in batches of up to ``out_rows`` rows; at least one batch (maybe
        empty) once any batch was added, so the schema is always known."""
        if self._schema is None:
            raise RuntimeError("no batch was added")
        for _, ipc in self._writers.values():
            ipc.close()
        for sink, _ in self._writers.values():
            sink.close()
        self._writers.clear()
        sent = False
        for b in range(self.buckets):
            table = self._bucket(b)
            if not table.num_rows:
                continue
            order = np.lexsort((table.column(_ROW).to_numpy(), table.column(_RANK).to_numpy()))
            table = table.drop_columns([_RANK, _ROW])
            for start in range(0, len(order), self._out_rows):  # one batch copied at a time
                part = table.take(pa.array(order[start : start + self._out_rows]))
                yield from part.to_batches()
            del table, part
            give_back()  # the next bucket starts from what this one used, not its peak
            sent = True
        if not sent:
            yield pa.RecordBatch.from_pylist([], schema=self._schema)

    def _bucket(self, b: int) -> pa.Table:
        if self.buckets == 1:
            held, self._held = self._held, []
            table = pa.Table.from_batches(held, schema=held[0].schema if held else None)
            return table.unify_dictionaries()
        if b not in self._written:
            return pa.table({})
        name = self._blob(b)
        with self._store.open_plaintext(name, self._data_key, context=self._context) as fh:
            table = pa.ipc.open_stream(fh).read_all()
        self._store.delete(name)
        self._written.discard(b)
        return table.unify_dictionaries()

    def _write(self, b: int, piece: pa.RecordBatch) -> None:
        if b not in self._writers:
            sink = self._store.writer(self._blob(b), self._data_key, context=self._context)
            self._writers[b] = (sink, pa.ipc.new_stream(sink, piece.schema, options=_IPC))
            self._written.add(b)
        self._writers[b][1].write_batch(piece)

    def _blob(self, b: int) -> str:
        return f"{self._name}{b}"

    def __enter__(self) -> KeyedOrder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for sink, _ in self._writers.values():
            sink.abort()
        self._writers.clear()
        for b in sorted(self._written):
            self._store.delete(self._blob(b))
        self._written.clear()
        self._held = []
