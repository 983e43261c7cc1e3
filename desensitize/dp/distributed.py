"""DP aggregate queries over partitioned Parquet on a Dask cluster.

The answer is the one :func:`desensitize.dp.answer_query` gives on the files read as one
table: the same rows are kept under the contribution bounds, the same exact figures are
tallied, and the noise is drawn once, on the client, from the total.

Without a privacy unit every row is its own person, so each piece of the input is
tallied where it is read and the tallies are added. With one, a person's rows may lie in
any piece, and the rows a person keeps depend on all of them (in table order: see
:mod:`desensitize.dp.bounding`). So each piece sends its rows to buckets by a hash of
their person; each bucket gathers the rows of its persons from every piece, in piece
order, which is table order, then bounds and tallies them. Buckets hold disjoint
persons, so their tallies add up as well.

The query key and the files' codec (which may hold a data key) reach the workers as
worker plugins, never in a task; the buckets are task results and hold raw values of
the query's columns, so a cluster handling raw data should not spill to unencrypted disk.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from distributed import Client

from desensitize.distributed import (
    Codec,
    FileCodec,
    Partitions,
    Piece,
    _client,
    _read,
    _Shared,
    _shared,
)
from desensitize.dp.aggregates import (
    Answer,
    Tally,
    _random_state,
    bounded_rows,
    noisy_answer,
    tally,
)
from desensitize.dp.bounding import Contribution
from desensitize.dp.query import Query

__all__ = ["answer_query_dask", "tally_dask"]


def answer_query_dask(
    source: str | Path | Sequence[str | Path],
    query: Query | dict[str, Any],
    *,
    contribution: Contribution | None = None,
    key: bytes = b"",
    rng: object = None,
    client: Client | str | None = None,
    codec: Codec | None = None,
    storage_options: Mapping[str, Any] | None = None,
    piece_rows: int = 1_000_000,
) -> Answer:
    """:func:`desensitize.dp.answer_query` over the Parquet files of ``source`` (a
    directory or a list of files, read in order as one table) on a Dask cluster.

    ``client``, ``codec``, ``storage_options`` and ``piece_rows`` as for
    :func:`desensitize.distributed.apply_dask`; the rest as for ``answer_query``."""
    q = query if isinstance(query, Query) else Query.from_dict(query)
    contribution = contribution or Contribution()
    figures = tally_dask(
        source,
        q,
        contribution=contribution,
        key=key,
        client=client,
        codec=codec,
        storage_options=storage_options,
        piece_rows=piece_rows,
    )
    return noisy_answer(figures, q, contribution, _random_state(rng))


def tally_dask(
    source: str | Path | Sequence[str | Path],
    query: Query | dict[str, Any],
    *,
    contribution: Contribution | None = None,
    key: bytes = b"",
    client: Client | str | None = None,
    codec: Codec | None = None,
    storage_options: Mapping[str, Any] | None = None,
    piece_rows: int = 1_000_000,
) -> Tally:
    """The exact figures of ``query`` over the rows kept under ``contribution``: what
    :func:`answer_query_dask` adds its noise to."""
    q = query if isinstance(query, Query) else Query.from_dict(query)
    contribution = contribution or Contribution()
    codec = codec or FileCodec()
    parts = Partitions.discover(source, storage_options, codec)
    q.check_table(parts.schema.empty_table().to_pandas())
    if contribution.unit is not None and contribution.unit not in parts.schema.names:
        raise ValueError(f"the privacy unit {contribution.unit!r} is not a column of the table")
    pieces = parts.pieces(piece_rows)
    dask = _client(client)
    run = secrets.token_hex(8)
    plugins: list[str] = []
    try:
        for field, value in (("key", key), ("codec", codec)):
            plugin = _Shared(run, field, value)
            dask.register_plugin(plugin, name=plugin.name)
            plugins.append(plugin.name)
        handle = parts.handle
        if contribution.unit is None:
            tallies = dask.map(_tally_piece, pieces, run=run, q=q, parts=handle, pure=False)
        else:
            buckets = len(pieces)
            split = dask.map(
                _split_piece,
                pieces,
                run=run,
                q=q,
                unit=contribution.unit,
                parts=handle,
                buckets=buckets,
                pure=False,
            )
            tallies = [
                dask.submit(
                    _tally_bucket,
                    run,
                    q,
                    contribution,
                    [dask.submit(_part, s, bucket, pure=False) for s in split],
                    pure=False,
                )
                for bucket in range(buckets)
            ]
        total = Tally()
        for figures in dask.gather(tallies):
            total.add(figures)
        return total
    finally:
        for name in plugins:
            dask.unregister_worker_plugin(name)
        if isinstance(client, str):
            dask.close()


def _frame(run: str, columns: list[str], parts: Partitions, piece: Piece) -> pd.DataFrame:
    """The piece's rows of ``columns`` (runs on a worker)."""
    batches = list(_read(parts.fs, piece, columns, _shared(run, "codec")))
    schema = parts.schema
    table = pa.Table.from_batches(batches, pa.schema([schema.field(c) for c in columns]))
    return table.to_pandas()


def _tally_piece(piece: Piece, *, run: str, q: Query, parts: Partitions) -> Tally:
    """One row, one person: the piece's rows need no others."""
    return _bounded_tally(_frame(run, q.columns, parts, piece), q, Contribution(), b"")


def _split_piece(
    piece: Piece, *, run: str, q: Query, unit: str, parts: Partitions, buckets: int
) -> list[pa.Table]:
    """The piece's rows with a person, by bucket."""
    columns = list(dict.fromkeys([*q.columns, unit]))
    frame = _frame(run, columns, parts, piece)
    frame = frame[frame[unit].notna().to_numpy()]  # no person: never kept
    bucket = pd.util.hash_array(frame[unit].to_numpy(), categorize=True) % np.uint64(buckets)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return [table.filter(pa.array(bucket == b)) for b in range(buckets)]


def _part(split: list[pa.Table], bucket: int) -> pa.Table:
    return split[bucket]


def _tally_bucket(run: str, q: Query, contribution: Contribution, parts: list[pa.Table]) -> Tally:
    """All the rows of the bucket's persons, bounded and tallied. Its parts come in piece
    order, each in table order, so the rows are in table order as they are."""
    frame = pa.concat_tables(parts).to_pandas()
    return _bounded_tally(frame, q, contribution, _shared(run, "key"))


def _bounded_tally(frame: pd.DataFrame, q: Query, contribution: Contribution, key: bytes) -> Tally:
    """The figures of the rows `answer_query` would aggregate: those in the public domain,
    within each person's bounds."""
    kept = bounded_rows(frame, q, contribution, key=key)
    return tally(frame[q.columns].iloc[kept], q)
