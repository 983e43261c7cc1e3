"""Desensitize a CSV or Parquet file into another in bounded memory.

Two passes over Arrow record batches. The first reads only the columns k-anonymity
needs and keeps only counts of their value combinations; the second transforms
and writes batch by batch. Batches are re-cut to a multiple of the noise rule's
row block, so every row gets exactly the noise an in-memory `apply` gives it.
The output is written to a temporary file and renamed only once the output's
own k-anonymity check passes: a failed run leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from desensitize.engine import UTILITY_ROWS, Desensitizer, Report, measure_utility, pieces_of
from desensitize.errors import DataError
from desensitize.keys import Keyring, as_keyring
from desensitize.memory import return_large_blocks
from desensitize.policy import Policy, as_policy
from desensitize.rules.noise import ROW_BLOCK

__all__ = ["BatchSource", "ParquetSource", "apply_batches", "apply_stream", "apply_table"]

_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
CSV_BLOCK_BYTES = 1 << 20  # Arrow infers types from the first block and reads blocks ahead
# The first pass reads only the columns the gate counts, in larger batches: each batch's
# values are looked up against all values seen so far, so fewer batches hash less.
SURVEY_ROWS = 200_000
# A Parquet column is dictionary-encoded if its first batch has at most this share of
# distinct values.
DICTIONARY_SHARE = 0.5


def _batches(source: Path | BinaryIO, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """A Parquet file's batches, opened without pre-buffering: a pre-buffered reader keeps
    every row group it has read until it is closed, so a pass over a large file would hold
    all of it."""
    return pq.ParquetFile(source, pre_buffer=False).iter_batches(batch_size=65_536, columns=columns)


def _format(path: Path) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path.name}: expected a .csv or .parquet file")
    return fmt


class _Source:
    """A CSV or Parquet file read as Arrow batches of a chosen set of columns."""

    def __init__(self, path: Path, encoding: str, text_columns: list[str]) -> None:
        self.path, self.encoding, self.format = path, encoding, _format(path)
        self.text_columns = text_columns
        if not path.exists():
            raise DataError(f"{path.name}: no such file")

    @cached_property
    def schema(self) -> pa.Schema:
        """All columns of the file, in file order."""
        if self.format == "parquet":
            try:
                return pq.ParquetFile(self.path).schema_arrow
            except (pa.ArrowInvalid, OSError):
                raise DataError(f"{self.path.name}: not a readable Parquet file") from None
        with self._csv(None) as reader:
            return reader.schema

    @contextmanager
    def _csv(self, columns: list[str] | None) -> Iterator[pacsv.CSVStreamingReader]:
        read = pacsv.ReadOptions(encoding=self.encoding, block_size=CSV_BLOCK_BYTES)
        convert = pacsv.ConvertOptions(
            include_columns=columns or [],
            column_types={name: pa.string() for name in self.text_columns},
        )
        try:
            reader = pacsv.open_csv(self.path, read_options=read, convert_options=convert)
        except (pa.ArrowInvalid, UnicodeDecodeError, LookupError) as exc:
            raise _csv_error(self.path, exc) from None
        try:
            yield reader
        finally:
            reader.close()

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            yield from _batches(self.path, columns)
            return
        with self._csv(columns) as reader:
            try:
                yield from reader
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise _csv_error(self.path, exc, self.schema.names) from None


def _csv_error(path: Path, exc: Exception, names: list[str] | None = None) -> DataError:
    """Name the file and column, never the offending value (Arrow quotes it).

    Arrow numbers columns as they stand in the file, so `names` is the whole header.
    """
    if isinstance(exc, UnicodeDecodeError | LookupError) or "invalid UTF8" in str(exc):
        return DataError(f"{path.name}: cannot decode the file with the given encoding")
    where = re.search(r"column #(\d+)", str(exc))
    column = f" column {names[int(where.group(1))]!r}:" if where and names else ""
    return DataError(f"{path.name}:{column} a value does not fit the column's type")


def _rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[tuple[int, pa.Table]]:
    """Contiguous tables of exactly `rows` rows (the last may be shorter), each with the
    offset of its first row; the reader's small batches are freed as they are copied."""
    pending: list[pa.RecordBatch] = []
    count = offset = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            pending = table.slice(rows).to_batches()
            count, offset = count - rows, offset + rows
            yield offset - rows, table.slice(0, rows).combine_chunks()
            del table
    if count:
        yield offset, pa.Table.from_batches(pending).combine_chunks()


def _repeating(table: pa.Table) -> list[str]:
    """Columns whose values repeat enough in the first batch for Parquet's dictionary
    encoding to pay: on tokens and noisy numbers, nearly all distinct, the writer would
    build a dictionary only to give it up, in time and in file size."""
    rows = max(table.num_rows, 1)
    return [
        field.name
        for field in table.schema
        if pa.types.is_null(field.type)  # no values to count (an empty input's columns)
        or pc.count_distinct(table.column(field.name), mode="all").as_py()
        <= DICTIONARY_SHARE * rows
    ]


def _encodings(table: pa.Table) -> dict[str, Any]:
    """Parquet settings per column, from the first batch: dictionaries for the columns
    whose values repeat; text that does not repeat (tokens) delta-encoded and left
    uncompressed, since its shared prefixes are all that compresses (a 100,000-row piece
    of two token columns: 3.4 MB and 11 ms with Snappy, 3.3 MB and 6 ms this way)."""
    repeating = _repeating(table)
    unique_text = [
        field.name
        for field in table.schema
        if field.name not in repeating
        and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
    ]
    return {
        "use_dictionary": repeating or False,
        "column_encoding": dict.fromkeys(unique_text, "DELTA_BYTE_ARRAY") or None,
        "compression": {
            field.name: "none" if field.name in unique_text else "snappy" for field in table.schema
        },
    }


class _Sink:
    """Writes output batches of one schema to CSV or Parquet."""

    def __init__(self, path: Path | BinaryIO, fmt: str, *, bounded: bool = True) -> None:
        self.path, self.format, self.bounded = path, fmt, bounded
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.schema = table.schema
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self.path, self.schema, **_encodings(table))
            else:
                self._writer = pacsv.CSVWriter(self.path, self.schema)
        if table.schema != self.schema:
            table = table.cast(self.schema)
        self._writer.write_table(table)
        if self.bounded:
            pa.default_memory_pool().release_unused()  # this thread's freed pages, see engine

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _UtilitySample:
    """The first `UTILITY_ROWS` rows before and after, gathered over as many batches as
    that takes, so the report's utility matches the in-memory one for any batch size."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.parts: list[tuple[pa.Table, pa.Table, np.ndarray]] = []
        self.rows = 0
        self.result: dict[str, Any] | None = None

    def add(self, before: pa.Table, after: pa.Table, kept: np.ndarray) -> None:
        if self.result is None and before.num_rows:
            self.parts.append((before, after, kept))
            self.rows += before.num_rows
            if self.rows >= UTILITY_ROWS:
                self.finish()

    def finish(self) -> dict[str, Any] | None:
        if self.result is None and self.parts:
            before, after, kept = zip(*self.parts, strict=True)
            self.parts = []
            self.result = measure_utility(
                self.policy, pa.concat_tables(before), pa.concat_tables(after), np.concatenate(kept)
            )
        return self.result


def _transform_all(
    engine: Desensitizer,
    reader: _Source,
    writer: _Sink,
    io: ThreadPoolExecutor,
    rows: int,
    row_ids: str | None = None,
) -> Report:
    """Pass two: transform each batch while the previous one is being written.

    The next batch is read and started (its rows chosen, its columns queued) before this
    one is completed, so the workers transform while the caller reads; reading further
    ahead would hold another batch in memory."""
    policy = engine.policy
    sample = _UtilitySample(policy)
    pending: Future | None = None

    def complete(table: pa.Table, started: Any, offset: int) -> None:
        nonlocal pending
        out, kept = engine.complete(started)
        sample.add(table, out, kept)
        if row_ids:
            out = out.append_column(row_ids, pa.array(offset + np.flatnonzero(kept)))
        if pending is not None:
            pending.result()
        pending = io.submit(writer.write, out)
        pa.default_memory_pool().release_unused()  # this thread's freed pages, see engine

    previous: tuple[pa.Table, Any, int] | None = None
    batches = _rebatch(reader.batches(policy.required_columns), rows)
    for offset, table in batches:
        started = engine.start(table, offset)
        if previous is not None:
            complete(*previous)
        engine.count_raw(table)
        previous = (table, started, offset)
    if previous is not None:
        complete(*previous)
    if pending is not None:
        pending.result()
    if writer.schema is None:  # an empty input still gets the policy's columns
        empty = reader.schema.empty_table().select(policy.required_columns)
        out = engine.transform(empty, 0)[0]
        if row_ids:
            out = out.append_column(row_ids, pa.array([], pa.int64()))
        writer.write(out)
    writer.close()
    return engine.finish(sample.finish())


class BatchSource(Protocol):
    """Anything that can read its columns as Arrow batches, as often as asked."""

    @property
    def schema(self) -> pa.Schema: ...

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]: ...


class ParquetSource:
    """A Parquet file behind ``open_file`` (called once per pass; it must seek), e.g. a
    decrypting reader, so plaintext never needs a path on disk."""

    def __init__(self, open_file: Callable[[], BinaryIO]) -> None:
        self.open_file = open_file

    @cached_property
    def schema(self) -> pa.Schema:
        with self.open_file() as fh:
            return pq.ParquetFile(fh).schema_arrow

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        with self.open_file() as fh:
            yield from _batches(fh, columns)


@contextmanager
def _published(sink: Path, *, bounded: bool = True) -> Iterator[_Sink]:
    """A writer into a partial file beside `sink`, renamed to `sink` only if the block ends
    without an error: a failed run leaves nothing behind."""
    partial = sink.with_name(sink.name + ".part")
    writer = _Sink(partial, _format(sink), bounded=bounded)
    try:
        yield writer
        writer.close()
        partial.replace(sink)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)


def apply_stream(
    source: str | Path,
    sink: str | Path,
    policy: Policy | Mapping[str, Any],
    keys: Keyring | bytes,
    *,
    batch_rows: int = 100_000,
    encoding: str = "utf-8",
) -> Report:
    """Desensitize `source` (CSV or Parquet) into `sink` (CSV or Parquet, UTF-8 CSV).

    Gives the same rows, and the same report, as `apply` on the same table, policy and
    keys. `batch_rows` is rounded up to whole noise blocks; `encoding` is the CSV input's.
    """
    policy = as_policy(policy)
    source, sink = Path(source), Path(sink)
    text = [c.name for c in policy.columns if c.rule is not None and c.rule.text_input]
    reader = _Source(source, encoding, text)
    with _published(sink) as writer:
        return _run(reader, writer, policy, keys, batch_rows)


def apply_table(
    table: pa.Table,
    sink: str | Path,
    policy: Policy | Mapping[str, Any],
    keys: Keyring | bytes,
) -> Report:
    """`apply` on a table in memory, written to `sink` (CSV or Parquet) as it is made:
    each piece is written while the next is finished, instead of after the whole table.
    The rows and the report are `apply`'s; as with `apply_stream`, the file appears only
    once the output has passed its own check."""
    policy, keys = as_policy(policy), as_keyring(keys)
    policy.validate_for(table.schema)
    table = table.select(policy.required_columns)
    sample = _UtilitySample(policy)
    with (
        _published(Path(sink), bounded=False) as writer,
        Desensitizer(policy, keys, bounded=False) as engine,
        ThreadPoolExecutor(max_workers=1) as io,
    ):
        pending: Future | None = None
        for piece, out, kept in pieces_of(engine, table):
            sample.add(piece, out, kept)
            if pending is not None:
                pending.result()
            pending = io.submit(writer.write, out)
        # The report (and the output's own check) while the last piece is written: should
        # the check fail, the pool waits for the write and the partial file is removed.
        report = engine.finish(sample.finish())
        if pending is not None:
            pending.result()
        return report


def apply_batches(
    source: BatchSource,
    sink: BinaryIO,
    policy: Policy | Mapping[str, Any],
    keys: Keyring | bytes,
    *,
    sink_format: str = "parquet",
    batch_rows: int = 100_000,
    row_ids: str | None = None,
) -> Report:
    """`apply_stream` for a batch source and an open binary sink (CSV or Parquet).

    With `row_ids`, each output row also carries its input position in a column of that
    name (a release keeps it to align leases and trace leaks; it is never leased).
    The caller owns the sink: on an error it must discard what was written.
    """
    if sink_format not in ("csv", "parquet"):
        raise ValueError(f"sink_format must be csv or parquet, got {sink_format!r}")
    writer = _Sink(sink, sink_format)
    try:
        return _run(source, writer, as_policy(policy), keys, batch_rows, row_ids)
    finally:
        writer.close()


def _run(
    reader: Any,
    writer: _Sink,
    policy: Policy,
    keys: Keyring | bytes,
    batch_rows: int,
    row_ids: str | None = None,
) -> Report:
    """Pass one surveys the k-anonymity columns; pass two transforms and writes."""
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    return_large_blocks()  # a bounded-memory run must not keep what it has freed
    keys = as_keyring(keys)
    policy.validate_for(reader.schema)
    rows = -(-batch_rows // ROW_BLOCK) * ROW_BLOCK
    with (
        Desensitizer(policy, keys) as engine,
        ThreadPoolExecutor(max_workers=1) as io,
    ):
        if engine.survey_columns:
            survey_rows = max(rows, -(-SURVEY_ROWS // ROW_BLOCK) * ROW_BLOCK)
            for offset, table in _rebatch(reader.batches(engine.survey_columns), survey_rows):
                engine.survey(table, offset)
                pa.default_memory_pool().release_unused()
        engine.prepare()
        pa.default_memory_pool().release_unused()  # what the level search used
        return _transform_all(engine, reader, writer, io, rows, row_ids)
