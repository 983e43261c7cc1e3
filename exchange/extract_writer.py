"""Write a desensitized extract as UTF-8 CSV or Parquet, batch by batch, hashing what is written.

CSV extracts end up in spreadsheets, where a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is run as a formula (CSV injection). So
CSV cells and headers that start with one of those get a leading apostrophe, as
OWASP advises; numeric columns are never touched, so -5 stays the number -5.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Literal, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "FORMULA_PREFIXES",
    "ExtractResult",
    "ExtractStream",
    "iter_extract_bytes",
    "neutralise_formulas",
    "neutralise_names",
    "write_extract",
]

ExtractFormat = Literal["csv", "parquet"]
# The full-width forms too: spreadsheets with a Chinese input method accept them as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


class ExtractResult(NamedTuple):
    rows: int
    sha256: str  # hex digest of exactly the bytes written


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be taken for spreadsheet formulas.

    Idempotent: a neutralised cell starts with an apostrophe, so it is left alone
    the second time.
    """
    result = frame
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        changed = _neutralise_column(column)
        if changed is not None:
            result = frame.copy(deep=False) if result is frame else result
            result.isetitem(position, changed)
    return result


def neutralise_names(names: Iterable[object]) -> list[str]:
    """Column names for a CSV header, neutralised like cells: headers come from uploads too."""
    return [f"'{n}" if str(n).startswith(FORMULA_PREFIXES) else str(n) for n in names]


def _neutralise_column(column: pd.Series) -> pd.Series | None:
    """The neutralised column, or None if nothing in it needs changing."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = pd.Series(column.cat.categories)
        renamed = _neutralise_column(categories)
        if renamed is None:
            return None
        if renamed.is_unique:
            return column.cat.rename_categories(renamed.to_numpy())
        return _neutralise_column(column.astype(object))
    if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
        return None  # numbers, dates, booleans: a spreadsheet shows them as values
    try:
        mask = column.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)
    except AttributeError:  # an object column without any text
        return None
    if not mask.any():
        return None
    neutral = column.copy()
    neutral[mask] = ("'" + column[mask]).to_numpy()
    return neutral


class _Drain:
    """A write-only file for pyarrow's writers whose content is taken out after each batch."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class ExtractStream(Iterator[bytes]):
    """The bytes of an extract as they are produced; ``rows``, ``size`` and ``sha256`` are
    final once it is exhausted (e.g. after a StreamingResponse has sent it)."""

    def __init__(
        self,
        batches: Iterable[pd.DataFrame],
        fmt: ExtractFormat,
        *,
        neutralise: bool = True,
        bom: bool = False,
    ) -> None:
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")
        self.rows = 0
        self.size = 0
        self.done = False
        self._hash = hashlib.sha256()
        self._chunks = self._produce(iter(batches), fmt, neutralise, bom)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def __next__(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.done = True
            raise
        self._hash.update(chunk)
        self.size += len(chunk)
        return chunk

    def _produce(
        self, batches: Iterator[pd.DataFrame], fmt: str, neutralise: bool, bom: bool
    ) -> Iterator[bytes]:
        sink = _Drain()
        writer: pacsv.CSVWriter | pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        for number, frame in enumerate(batches):
            if fmt == "csv" and neutralise:
                frame = neutralise_formulas(frame)
            table = _to_arrow(frame, schema, number)
            if writer is None:
                schema = table.schema
                writer = _open_writer(sink, schema, fmt, neutralise)
                if fmt == "csv" and bom:
                    yield codecs.BOM_UTF8  # for spreadsheet programs that assume a local code page
            writer.write_table(table)
            self.rows += table.num_rows
            if chunk := sink.take():
                yield chunk
        if writer is not None:
            writer.close()
            if chunk := sink.take():
                yield chunk


def iter_extract_bytes(
    batches: Iterable[pd.DataFrame],
    fmt: ExtractFormat,
    *,
    neutralise: bool = True,
    bom: bool = False,
) -> ExtractStream:
    """An iterator of the extract's bytes, one piece per batch, for a streaming response.

    CSV is UTF-8 with one header row (``bom`` prepends a UTF-8 byte order mark);
    with ``neutralise`` its text cells are passed through :func:`neutralise_formulas`.
    Parquet gets one row group per batch. No batches at all give no bytes.
    """
    return ExtractStream(batches, fmt, neutralise=neutralise, bom=bom)


def write_extract(
    batches: Iterable[pd.DataFrame],
    out: BinaryIO,
    fmt: ExtractFormat,
    *,
    neutralise: bool = True,
    bom: bool = False,
) -> ExtractResult:
    """Write the extract to ``out`` (left open) and return its row count and SHA-256."""
    stream = iter_extract_bytes(batches, fmt, neutralise=neutralise, bom=bom)
    for chunk in stream:
        out.write(chunk)
    return ExtractResult(stream.rows, stream.sha256)


def _open_writer(
    sink: _Drain, schema: pa.Schema, fmt: str, neutralise: bool
) -> pacsv.CSVWriter | pq.ParquetWriter:
    if fmt == "parquet":
        return pq.ParquetWriter(sink, schema)
    if neutralise:
        return _RenamingCsvWriter(sink, schema, neutralise_names(schema.names))
    return pacsv.CSVWriter(sink, schema)


class _RenamingCsvWriter:
    """A CSV writer whose header shows other names than the tables it is given."""

    def __init__(self, sink: _Drain, schema: pa.Schema, names: list[str]) -> None:
        self._names = names
        renamed = pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)])
        self._writer = pacsv.CSVWriter(sink, renamed)

    def write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table.rename_columns(self._names))

    def close(self) -> None:
        self._writer.close()


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema | None, number: int) -> pa.Table:
    """``frame`` as Arrow, held to the first batch's schema so every batch writes alike.

    Arrow's own conversion errors quote the offending value, so they are replaced
    by one that names the column only.
    """
    if not frame.columns.is_unique:
        raise ValueError("an extract cannot have two columns with the same name")
    if schema is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        # An all-missing text column has no type yet; later batches will bring strings.
        fields = [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
        return table.cast(pa.schema(fields, metadata=table.schema.metadata))
    if [str(c) for c in frame.columns] != schema.names:
        raise ValueError(f"batch {number} has other columns than the first batch")
    try:
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    for name, field in zip(frame.columns, schema, strict=True):
        try:
            pa.array(frame[name], type=field.type, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise ValueError(
                f"batch {number}: column {name!r} does not fit its type in the first batch "
                f"({field.type})"
            ) from None
    raise ValueError(f"batch {number} does not fit the first batch's schema")
