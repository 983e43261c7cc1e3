"""Desensitize partitioned Parquet on a Dask cluster: the engine's two passes as map-reduce.

The input is a directory of Parquet files (or a list of files) on any fsspec
filesystem, read in natural name order as one table. Each file's rows get their
global positions from the files' footers, so keyed rules and noise see the same row
offsets as the single-process engine. Work is cut into *pieces* of whole noise blocks
(`ROW_BLOCK` rows, counted from the first row of the whole input): a piece takes the
blocks that start in its file (or, in a large file, in its run of row groups) and
reads the few rows of a block that straddles into the next file, so no noise block is
ever split and every row gets exactly the noise `apply_stream` gives it.

Pass one surveys each piece on a worker (the engine's combination counts, and the
value counts of columns whose rule fits quantiles); the client merges them and plans
once (levels, suppression, l-diversity, persons). Pass two transforms each piece on
a worker and writes one output file per piece into a hidden staging directory; the
client merges the output's own class counts, checks k and l on them, and only then
moves the files into place. The release is the same rows, with the same values, as
`apply_stream` on the files concatenated, and the report is the same.

Secrets and raw values reach the workers as worker plugins, not as task arguments
or scattered data: a plugin lives in the memory of the scheduler and of each worker
(and is given to workers that join later), never in a worker's spillable data store
or in a task graph; it is removed from every worker when the run ends. The keyring
travels that way, and so do the plan, which can hold the raw ids of suppressed
persons, and the `Codec`, which can hold the data key of encrypted partitions (files
stay sealed at rest; workers decrypt them in memory as they read). Per-piece counts
do come back as task results (they hold level-0 values and, with a privacy unit,
persons' ids); the client gathers each as soon as it is ready, but a cluster
handling raw data should not spill to unencrypted disk.
"""

from __future__ import annotations

import bisect
import dataclasses
import secrets
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask.utils import natural_sort_key
from distributed import Client, WorkerPlugin, as_completed, get_client

from desensitize.engine import COUNT, UTILITY_ROWS, Desensitizer, Report, Tally, measure_utility
from desensitize.errors import DataError
from desensitize.keys import Keyring, as_keyring
from desensitize.policy import Policy, as_policy
from desensitize.rules.noise import ROW_BLOCK
from desensitize.stream import SURVEY_ROWS, _rebatch, _Sink

__all__ = ["Codec", "FileCodec", "Partitions", "Piece", "apply_dask", "cluster_check"]

_SUFFIXES = (".parquet", ".pq")
READ_ROWS = 65_536
# Merged counts are re-grouped once this many rows of partial counts have come in, so
# the client holds about the distinct combinations plus this, whatever the pieces.
MERGE_ROWS = 2_000_000
_SHARED: dict[tuple[str, str], Any] = {}  # on a worker: what the running jobs' plugins hold


class _Shared(WorkerPlugin):
    """One value of one run, held in each worker's memory while the run lasts."""

    def __init__(self, run: str, field: str, value: Any) -> None:
        self.run, self.field, self.value = run, field, value
        self.name = f"datalease-{run}-{field}"

    def setup(self, worker: Any) -> None:
        _SHARED[(self.run, self.field)] = self.value

    def teardown(self, worker: Any) -> None:
        _SHARED.pop((self.run, self.field), None)


class Codec(Protocol):
    """How input files are read and output files written. One that decrypts and encrypts
    (AES-GCM partitions at rest) holds its key; it reaches the workers as the keyring
    does, so the key is in no task. Workers import its class, so it must be importable
    there."""

    def reader(self, fs: Any, path: str) -> BinaryIO: ...

    def writer(self, fs: Any, path: str) -> BinaryIO: ...


class FileCodec:
    """Files as they are (the default `Codec`)."""

    def reader(self, fs: Any, path: str) -> BinaryIO:
        """A readable, seekable binary file of the plaintext."""
        return fs.open(path, "rb")

    def writer(self, fs: Any, path: str) -> BinaryIO:
        """A writable binary file; what is written is stored (sealed) once it is closed."""
        return fs.open(path, "wb")


def _shared(run: str, field: str) -> Any:
    try:
        return _SHARED[(run, field)]
    except KeyError:
        raise RuntimeError(f"this worker holds no {field} for run {run}") from None


@dataclass(frozen=True)
class Segment:
    """Rows [start, stop) of one file."""

    path: str
    start: int
    stop: int


@dataclass(frozen=True)
class Piece:
    """Rows [offset, offset + rows) of the whole input: whole noise blocks."""

    index: int
    offset: int
    rows: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Partitions:
    """Parquet files read as one table, in order, with their row counts from the footers."""

    fs: Any  # an fsspec filesystem (picklable: it travels with each task)
    paths: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]  # per file, rows per row group
    schema: pa.Schema

    @classmethod
    def discover(
        cls,
        source: str | Path | Sequence[str | Path],
        storage_options: Mapping[str, Any] | None = None,
        codec: Codec | None = None,
    ) -> Partitions:
        """The Parquet files of a directory (hidden ones and `_`-prefixed ones skipped,
        as Dask and Arrow skip them) in natural name order, or the given files in order."""
        options = dict(storage_options or {})
        many = not isinstance(source, str | Path)
        urls = [str(s) for s in source] if many else [str(source)]  # type: ignore[union-attr]
        if not urls:
            raise DataError("no Parquet files given")
        fs, _ = fsspec.core.url_to_fs(urls[0], **options)
        paths = [fs._strip_protocol(url) for url in urls]
        if not many and fs.isdir(paths[0]):
            root = paths[0].rstrip("/")
            found = [
                path
                for path in fs.find(root)
                if path.endswith(_SUFFIXES)
                and not any(p.startswith((".", "_")) for p in path[len(root) :].split("/") if p)
            ]
            paths = sorted(found, key=natural_sort_key)
            if not paths:
                raise DataError(f"{Path(root).name}: no Parquet files in the directory")
        with ThreadPoolExecutor(max_workers=8) as pool:
            footers = list(pool.map(lambda path: _footer(fs, path, codec or FileCodec()), paths))
        schema = footers[0][1]
        for path, (_, other) in zip(paths, footers, strict=True):
            if other.names != schema.names or other.types != schema.types:
                raise DataError(f"{Path(path).name}: its columns differ from the first file's")
        return cls(fs, tuple(paths), tuple(groups for groups, _ in footers), schema)

    @property
    def handle(self) -> Partitions:
        """What a task needs (filesystem, schema): its piece names its files, and a list of
        thousands of files in every task would make the graph quadratic."""
        return dataclasses.replace(self, paths=(), groups=())

    @property
    def rows(self) -> tuple[int, ...]:
        return tuple(sum(groups) for groups in self.groups)

    @property
    def total(self) -> int:
        return sum(self.rows)

    def _cuts(self, piece_rows: int) -> list[int]:
        """Where pieces may start: each file's first row, and in a file of more than
        `piece_rows` rows, the row groups that begin `piece_rows` or more after the last cut."""
        cuts, at = [], 0
        for groups in self.groups:
            cuts.append(at)
            since = 0
            for rows in groups:
                if since >= piece_rows:
                    cuts.append(at)
                    since = 0
                at, since = at + rows, since + rows
        return [*cuts, at]

    def pieces(self, piece_rows: int = 1_000_000) -> list[Piece]:
        """Each file's share of whole blocks (a large file's, per `piece_rows` of its row
        groups): those that start in it, including the rows of its last block that lie
        in the files after it (at least one piece)."""
        starts = np.concatenate(([0], np.cumsum(self.rows))).tolist()
        total = starts[-1]
        if total == 0:
            return [Piece(0, 0, 0, (Segment(self.paths[0], 0, 0),))]
        pieces: list[Piece] = []
        cuts = self._cuts(piece_rows)
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            first = -(-start // ROW_BLOCK) * ROW_BLOCK
            last = min(-(-stop // ROW_BLOCK) * ROW_BLOCK, total)
            if first < last:
                segments = self._segments(starts, first, last)
                pieces.append(Piece(len(pieces), first, last - first, segments))
        return pieces

    def _segments(self, starts: list[int], first: int, last: int) -> tuple[Segment, ...]:
        at = bisect.bisect_right(starts, first) - 1
        segments = []
        while first < last:
            stop = min(starts[at + 1], last)
            if stop > first:
                segments.append(Segment(self.paths[at], first - starts[at], stop - starts[at]))
            first, at = stop, at + 1
        return tuple(segments)


def _footer(fs: Any, path: str, codec: Codec) -> tuple[tuple[int, ...], pa.Schema]:
    """Rows per row group, and the schema."""
    try:
        with codec.reader(fs, path) as fh:
            meta = pq.ParquetFile(fh).metadata
            groups = tuple(meta.row_group(g).num_rows for g in range(meta.num_row_groups))
            return groups, meta.schema.to_arrow_schema()
    except (pa.ArrowInvalid, OSError):
        raise DataError(f"{Path(path).name}: not a readable Parquet file") from None


def _read(
    fs: Any, piece: Piece, columns: list[str], codec: Codec | None = None
) -> Iterator[pa.RecordBatch]:
    """The piece's rows of `columns`, reading only the row groups that hold them."""
    codec = codec or FileCodec()
    for segment in piece.segments:
        with codec.reader(fs, segment.path) as fh:
            file = pq.ParquetFile(fh)
            groups, first, at = [], None, 0
            for group in range(file.metadata.num_row_groups):
                rows = file.metadata.row_group(group).num_rows
                if at < segment.stop and at + rows > segment.start:
                    groups.append(group)
                    first = at if first is None else first
                at += rows
            if not groups:
                continue
            skip, left = segment.start - first, segment.stop - segment.start
            for batch in file.iter_batches(READ_ROWS, row_groups=groups, columns=columns):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                batch = batch.slice(skip, left)
                skip, left = 0, left - batch.num_rows
                yield batch
                if not left:
                    break


def _block_rows(rows: int) -> int:
    return -(-rows // ROW_BLOCK) * ROW_BLOCK


@dataclass(frozen=True)
class _Survey:
    counts: pa.Table | None
    fits: dict[str, pa.Table]  # per column: distinct values ("v") and rows ("n")


def _survey_piece(run: str, policy: Policy, parts: Partitions, piece: Piece) -> _Survey:
    """Pass one over a piece (runs on a worker)."""
    with Desensitizer(policy, _shared(run, "keys")) as engine:
        rows = _block_rows(SURVEY_ROWS)
        for offset, table in _rebatch(
            _read(parts.fs, piece, engine.survey_columns, _shared(run, "codec")), rows
        ):
            engine.survey(table, piece.offset + offset)
        counts, fits = engine.surveyed(encoded=True)
    tallied = {}
    for name, values in fits.items():
        found = pc.value_counts(values)
        tallied[name] = pa.table({"v": found.field("values"), "n": found.field("counts")})
    return _Survey(_wide_indices(counts), tallied)


def _wide_indices(counts: pa.Table | None) -> pa.Table | None:
    """Dictionary columns with 32-bit indices, so that pieces' counts concatenate (each
    piece picks the narrowest index type for its own values)."""
    if counts is None:
        return None
    columns = [
        column.cast(pa.dictionary(pa.int32(), column.type.value_type))
        if pa.types.is_dictionary(column.type)
        else column
        for column in counts.columns
    ]
    return pa.table(columns, names=counts.column_names)


@dataclass(frozen=True)
class _Done:
    index: int
    tally: Tally
    sample: tuple[pa.Table, pa.Table, np.ndarray] | None  # rows for the utility report


def _transform_piece(
    run: str,
    policy: Policy,
    parts: Partitions,
    piece: Piece,
    out_fs: Any,
    out_path: str,
    batch_rows: int,
    row_ids: str | None,
) -> _Done:
    """Pass two over a piece, written to `out_path` (runs on a worker)."""
    plan, states = _shared(run, "plan")
    sample: list[tuple[pa.Table, pa.Table, np.ndarray]] = []
    codec = _shared(run, "codec")
    with (
        Desensitizer(policy, _shared(run, "keys")) as engine,
        codec.writer(out_fs, out_path) as fh,
    ):
        engine.use_plan(plan, states)
        sink = _Sink(fh, "parquet")
        batches = _rebatch(_read(parts.fs, piece, policy.required_columns, codec), batch_rows)
        for local, table in batches:
            offset = piece.offset + local
            out, kept = engine.transform(table, offset)
            engine.count_raw(table)
            if offset < UTILITY_ROWS:
                head = kept[: UTILITY_ROWS - offset]
                shown = int(head.sum())
                sample.append((table.slice(0, len(head)), out.slice(0, shown), head))
            if row_ids:
                out = out.append_column(row_ids, pa.array(offset + np.flatnonzero(kept)))
            sink.write(out)
        if sink.schema is None:  # an empty input still gets the policy's columns
            empty = parts.schema.empty_table().select(policy.required_columns)
            out = engine.transform(empty, 0)[0]
            if row_ids:
                out = out.append_column(row_ids, pa.array([], pa.int64()))
            sink.write(out)
        sink.close()
        tally = engine.tally()
    joined = None
    if sample:
        befores, afters, keeps = zip(*sample, strict=True)
        joined = (pa.concat_tables(befores), pa.concat_tables(afters), np.concatenate(keeps))
    return _Done(piece.index, tally, joined)


class _CountMerger:
    """Partial combination counts merged by their values as they come in.

    Partials are re-grouped with the merged table once they hold as many rows as it (and
    at least `MERGE_ROWS`): each row is re-grouped a logarithmic number of times, where
    merging at every piece once the distinct combinations pass `MERGE_ROWS` would
    re-group them all at every piece."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []
        self.merged = 0  # rows of the merged table (parts[0]) after the last merge
        self.pending = 0  # rows of the partials since

    def add(self, counts: pa.Table | None) -> None:
        if counts is not None and counts.num_rows:
            self.parts.append(counts)
            self.pending += counts.num_rows
            if self.pending > max(MERGE_ROWS, self.merged) and len(self.parts) > 1:
                self._merge()

    def _merge(self) -> None:
        # Values stay dictionary-encoded: the client holds the distinct combinations of the
        # whole input, and as strings they took ten times the memory of their indices.
        table = pa.concat_tables(self.parts, promote_options="permissive").unify_dictionaries()
        names = [n for n in table.column_names if n != COUNT]
        if names:
            table = table.group_by(names, use_threads=False).aggregate([(COUNT, "sum")])
            table = table.rename_columns([*names, COUNT])
        else:
            table = pa.table({COUNT: [int(pc.sum(table[COUNT]).as_py())]})
        self.parts, self.merged, self.pending = [table], table.num_rows, 0

    def table(self) -> pa.Table | None:
        if not self.parts:
            return None
        if len(self.parts) > 1:
            self._merge()
        return self.parts[0]


def _fit_values(tallies: list[pa.Table]) -> pa.Array:
    """A column's values (in no particular order) from its per-piece value counts."""
    table = pa.concat_tables(tallies, promote_options="permissive")
    table = table.group_by("v", use_threads=False).aggregate([("n", "sum")])
    repeats = np.repeat(np.arange(table.num_rows), table["n_sum"].to_numpy())
    return table["v"].combine_chunks().take(pa.array(repeats))


def _client(client: Client | str | None) -> Client:
    if isinstance(client, Client):
        return client
    if isinstance(client, str):
        return Client(client)
    return get_client()


def apply_dask(
    source: str | Path | Sequence[str | Path],
    sink: str | Path,
    policy: Policy | Mapping[str, Any],
    keys: Keyring | bytes,
    *,
    client: Client | str | None = None,
    batch_rows: int = 100_000,
    piece_rows: int = 1_000_000,
    row_ids: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    codec: Codec | None = None,
) -> Report:
    """Desensitize partitioned Parquet `source` into the directory `sink` on a Dask
    cluster (see the module doc); `sink` must not exist yet or be empty.

    `client` is a `distributed.Client`, a scheduler address, or None for the current
    client. The output is one `part-NNNNN.parquet` per piece; read in name order they
    are the rows `apply_stream` writes. `row_ids` as for `apply_batches`; `codec` reads
    and writes the files (e.g. decrypting and encrypting them). A file of more than
    `piece_rows` rows is worked as several pieces, cut at its row groups, so a worker
    holds at most a piece's counts and a batch's rows, whatever the files' sizes.
    """
    if batch_rows < 1 or piece_rows < 1:
        raise ValueError(
            f"batch_rows and piece_rows must be positive, got {batch_rows, piece_rows}"
        )
    policy, keys = as_policy(policy), as_keyring(keys)
    codec = codec or FileCodec()
    parts = Partitions.discover(source, storage_options, codec)
    policy.validate_for(parts.schema)
    out_fs, out_root = fsspec.core.url_to_fs(str(sink), **dict(storage_options or {}))
    out_root = out_root.rstrip("/")
    if out_fs.exists(out_root) and out_fs.ls(out_root):
        raise DataError(f"{Path(out_root).name}: the output directory is not empty")
    dask = _client(client)
    run = secrets.token_hex(8)
    staging = f"{out_root}/.staging-{run}"
    out_fs.makedirs(staging, exist_ok=True)
    plugins: list[str] = []

    def share(field: str, value: Any) -> None:
        plugin = _Shared(run, field, value)
        dask.register_plugin(plugin, name=plugin.name)
        plugins.append(plugin.name)

    try:
        share("keys", keys)
        share("codec", codec)
        pieces = parts.pieces(piece_rows)
        with Desensitizer(policy, keys) as engine:
            if engine.survey_columns:
                _pass_one(dask, run, policy, parts, pieces, engine)
            engine.prepare()
            share("plan", (engine.plan, engine.states))
            names = [f"part-{piece.index:05d}.parquet" for piece in pieces]
            paths = [f"{staging}/{name}" for name in names]
            tasks = (run, policy, parts, pieces, out_fs, paths, _block_rows(batch_rows), row_ids)
            utility = _pass_two(dask, engine, *tasks)
            report = engine.finish(utility)  # raises if the output fails k or l
        for name in names:
            out_fs.mv(f"{staging}/{name}", f"{out_root}/{name}")
        return report
    finally:
        for name in plugins:
            dask.unregister_worker_plugin(name)
        if out_fs.exists(staging):
            out_fs.rm(staging, recursive=True)
        if isinstance(client, str):
            dask.close()


@contextmanager
def _cancelled_on_error(dask: Client, futures: list[Any]) -> Iterator[None]:
    """A failed piece fails the run: the others are cancelled rather than left writing."""
    try:
        yield
    except BaseException:
        dask.cancel(futures)
        raise


def _pass_one(
    dask: Client,
    run: str,
    policy: Policy,
    parts: Partitions,
    pieces: list[Piece],
    engine: Desensitizer,
) -> None:
    """Survey the pieces on the workers; the client's engine gets the merged counts."""
    counts = _CountMerger()
    fits: dict[str, list[pa.Table]] = {name: [] for name in engine.surveyed()[1]}
    futures = [
        dask.submit(_survey_piece, run, policy, parts.handle, piece, pure=False) for piece in pieces
    ]
    with _cancelled_on_error(dask, futures):
        for future, survey in as_completed(futures, loop=dask.loop, with_results=True):
            counts.add(survey.counts)
            for name, tally in survey.fits.items():
                fits[name].append(tally)
            future.release()  # the workers drop it: it holds raw quasi-identifier values
    engine.use_survey(counts.table(), {name: _fit_values(t) for name, t in fits.items()})


def _pass_two(
    dask: Client,
    engine: Desensitizer,
    run: str,
    policy: Policy,
    parts: Partitions,
    pieces: list[Piece],
    out_fs: Any,
    paths: list[str],
    batch_rows: int,
    row_ids: str | None,
) -> dict[str, Any] | None:
    """Transform and write the pieces on the workers; the client's engine gets the merged
    tally. Returns the utility report of the input's first rows."""
    futures = [
        dask.submit(
            _transform_piece,
            run,
            policy,
            parts.handle,
            piece,
            out_fs,
            path,
            batch_rows,
            row_ids,
            pure=False,
        )
        for piece, path in zip(pieces, paths, strict=True)
    ]
    output, raw = _CountMerger(), _CountMerger()
    rows = [0, 0, 0, 0]
    samples: dict[int, tuple[pa.Table, pa.Table, np.ndarray]] = {}
    with _cancelled_on_error(dask, futures):
        for future, done in as_completed(futures, loop=dask.loop, with_results=True):
            output.add(done.tally.output)
            raw.add(done.tally.raw)
            tally = done.tally
            counted = (tally.rows_in, tally.rows_out, tally.rows_dropped, tally.rows_suppressed)
            rows = [a + b for a, b in zip(rows, counted, strict=True)]
            if done.sample is not None:
                samples[done.index] = done.sample
            future.release()
    engine.use_tally(Tally(output.table(), raw.table(), *rows))
    if not rows[0]:
        return None
    before, after, kept = zip(*(samples[i] for i in sorted(samples)), strict=True)
    return measure_utility(
        policy, pa.concat_tables(before), pa.concat_tables(after), np.concatenate(kept)
    )


CHECK_ROWS = 25_000
CHECK_POLICY: dict[str, Any] = {
    "k": 5,
    "columns": {
        "person": {"class": "identifier", "rule": "token"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "age": {"class": "quasi_identifier", "rule": "generalize", "width": 10},
        "fare": {"class": "attribute", "rule": "noise", "epsilon": 1.0, "bounds": [0, 20]},
    },
}


def cluster_check(
    client: Client | str | None = None, workdir: str | Path | None = None
) -> dict[str, Any]:
    """The cluster's workers, and a tiny release made on it and in-process: whether both
    are the same. `workdir` (a local directory by default) must be one the workers can
    read and write: a shared filesystem or an object store URL."""
    import tempfile
    import time

    from desensitize.stream import apply_stream

    dask = _client(client)
    try:
        info = dask.scheduler_info()
        workers = [
            {
                "address": address,
                "threads": w.get("nthreads"),
                "memory_limit": w.get("memory_limit"),
            }
            for address, w in sorted(info.get("workers", {}).items())
        ]
        rng = np.random.default_rng(0)
        table = pa.table(
            {
                "person": [f"P{i:06d}" for i in rng.integers(0, CHECK_ROWS // 4, CHECK_ROWS)],
                "district": rng.choice(["福田区", "南山区", "罗湖区"], CHECK_ROWS),
                "age": rng.integers(18, 90, CHECK_ROWS),
                "fare": rng.gamma(2.0, 1.5, CHECK_ROWS).round(1),
            }
        )
        keys = Keyring(secrets.token_bytes(32))
        with tempfile.TemporaryDirectory() as local:
            root = str(workdir) if workdir is not None else local
            fs, base = fsspec.core.url_to_fs(root)
            base = f"{base.rstrip('/')}/datalease-check-{secrets.token_hex(4)}"
            fs.makedirs(f"{base}/in", exist_ok=True)
            cuts = [0, 7_001, 16_500, CHECK_ROWS]  # blocks straddle the files
            for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
                with fs.open(f"{base}/in/part.{i}.parquet", "wb") as fh:
                    pq.write_table(table.slice(a, b - a), fh)
            try:
                start = time.perf_counter()
                report = apply_dask(f"{base}/in", f"{base}/out", CHECK_POLICY, keys, client=dask)
                seconds = time.perf_counter() - start
                got = pa.concat_tables(
                    pq.read_table(path, filesystem=fs)
                    for path in sorted(fs.glob(f"{base}/out/part-*.parquet"))
                )
                pq.write_table(table, f"{local}/whole.parquet")
                expected = apply_stream(
                    f"{local}/whole.parquet", f"{local}/stream.parquet", CHECK_POLICY, keys
                )
                same = got.equals(pq.read_table(f"{local}/stream.parquet")) and (
                    report.to_dict() == expected.to_dict()
                )
            finally:
                fs.rm(base, recursive=True)
        return {
            "scheduler": info.get("address"),
            "workers": workers,
            "rows": CHECK_ROWS,
            "rows_out": report.rows_out,
            "seconds": round(seconds, 3),
            "same_release": same,
        }
    finally:
        if isinstance(client, str):
            dask.close()
