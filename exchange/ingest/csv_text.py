"""CSV rows as text: pyarrow parses (fast, streaming), Python's csv module explains failures.

Every column is read as a string here; deciding types is ``column_types``' job.
pyarrow's error messages quote the offending row, so they are never passed on:
once pyarrow fails, the file is read again with the csv module to find the first
bad line and say what is wrong with it in words that hold no cell values.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from exchange.ingest.delimiter import detect_delimiter
from exchange.ingest.errors import UploadError
from exchange.ingest.header import parse_header, sample_text
from exchange.ingest.limits import Limits, Tally
from exchange.ingest.sniff import detect_encoding, encoding_label

__all__ = ["CsvFile"]

SNIFF_BYTES = 1 << 20  # the encoding, the delimiter and the header are judged from this much
BLOCK_SIZE = 1 << 20  # pyarrow parses this much at once: a record must fit in it


class CsvFile:
    """An opened CSV upload: its encoding, delimiter and header, and its rows as all-string
    Arrow tables, counted against ``limits`` as they are read."""

    def __init__(
        self,
        fh: BinaryIO,
        encoding: str | None,
        delimiter: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._fh = fh
        self.limits = limits or Limits()
        self.rereadable = bool(getattr(fh, "seekable", lambda: False)())
        self._start = fh.tell() if self.rereadable else 0
        self._sample = fh.read(SNIFF_BYTES)
        if not self._sample.strip():
            raise UploadError("the file is empty")
        complete = len(self._sample) < SNIFF_BYTES
        chosen = encoding or detect_encoding(self._sample, complete=complete)
        self.encoding = codecs.lookup(chosen).name
        text = sample_text(self._sample, self.encoding, complete=complete)
        self.delimiter = delimiter or detect_delimiter(text, complete=complete)
        self.names = parse_header(text, delimiter=self.delimiter)
        self.limits.check_columns(len(self.names))
        self._reads = 0

    def tables(self, batch_rows: int, max_rows: int | None = None) -> Iterator[pa.Table]:
        """Tables of ``batch_rows`` rows (at least one, maybe empty); call again to re-read."""
        # pyarrow skips a UTF-8 BOM itself and transcodes other encodings while streaming.
        encoding = "utf8" if self.encoding.startswith("utf-8") else self.encoding
        read = pacsv.ReadOptions(
            column_names=self.names, skip_rows=1, block_size=BLOCK_SIZE, encoding=encoding
        )
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in self.names},
            strings_can_be_null=True,
            # A quoted "" or "NA" is text; only unquoted empty cells and NA markers are missing.
            quoted_strings_can_be_null=False,
        )
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)
        stream = _QuoteCounter(self._stream())
        try:
            reader = pacsv.open_csv(
                stream, read_options=read, parse_options=parse, convert_options=convert
            )
            counted = _counted(reader, Tally(self.limits))
            yield from _rebatch(counted, reader.schema, batch_rows, max_rows)
        except (pa.ArrowInvalid, UnicodeError) as exc:
            if "straddling" in str(exc):  # pyarrow's words for a record longer than a block
                raise UploadError(
                    f"a record is longer than {BLOCK_SIZE} bytes (or a quote is not closed)"
                ) from None
            raise self._diagnose() or UploadError("the file is not well-formed CSV") from None
        # pyarrow silently ends a quoted field left open at the end of the file, taking
        # every later line into one cell. Balanced quotes rule that out; else look closer.
        if stream.exhausted and stream.quotes % 2 and (problem := self._diagnose()):
            raise problem

    def _stream(self) -> BinaryIO:
        self._reads += 1
        if self.rereadable:
            self._fh.seek(self._start)
            return self._fh
        if self._reads > 1:
            raise RuntimeError("a non-seekable CSV source can be read only once")
        return _Replay(self._sample, self._fh)  # type: ignore[return-value]

    def _diagnose(self) -> UploadError | None:
        if not self.rereadable:
            return None
        return _find_bad_line(self._stream(), self.encoding, self.delimiter, len(self.names))


class _QuoteCounter:
    """Passes reads through, counting double quotes (never a byte of a UTF-8/GB18030 letter)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner, self.quotes, self.exhausted, self.closed = inner, 0, False, False

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.quotes += data.count(b'"')
        self.exhausted = self.exhausted or not data
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class _Replay:
    """A non-seekable stream with its already-read first bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest, self.closed = head, rest, False

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _find_bad_line(
    stream: BinaryIO, encoding: str, delimiter: str, expected: int
) -> UploadError | None:
    """The first line that breaks the CSV structure or the encoding, as an UploadError."""
    decoder = codecs.getincrementaldecoder(encoding)()
    physical = 0

    def text_lines() -> Iterator[str]:
        nonlocal physical
        for raw in _physical_lines(stream):
            physical += 1
            yield decoder.decode(raw)

    reader = csv.reader(text_lines(), delimiter=delimiter, strict=True)
    start = 1  # the line on which the current record starts
    try:
        for number, row in enumerate(reader):
            if number and row and len(row) != expected:
                return UploadError(
                    f"line {start} has {len(row)} fields but the header has {expected}", line=start
                )
            start = reader.line_num + 1
    except UnicodeDecodeError:
        label = encoding_label(encoding)
        return UploadError(f"line {physical} is not valid {label} text", line=physical)
    except csv.Error:
        return UploadError(
            f"line {start} has a malformed quoted field (a quote is not closed, "
            "or text follows a closing quote)",
            line=start,
        )
    return None


def _physical_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines split on b'\\n': safe in every encoding accepted, whose multi-byte parts never hold it."""
    rest = b""
    while block := stream.read(BLOCK_SIZE):
        *lines, rest = (rest + block).split(b"\n")
        yield from (line + b"\n" for line in lines)
    if rest:
        yield rest


def _counted(batches: Iterable[pa.RecordBatch], tally: Tally) -> Iterator[pa.RecordBatch]:
    """Pass pyarrow's blocks through, stopping at the first limit the file passes."""
    for batch in batches:
        tally.add(batch)
        yield batch


def _rebatch(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, batch_rows: int, max_rows: int | None
) -> Iterator[pa.Table]:
    """Regroup pyarrow's byte-sized blocks into ``batch_rows``-row tables, stopping at max_rows."""
    pending, limit, yielded = schema.empty_table(), max_rows, False
    for batch in batches:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch], schema)])
        if limit is not None and pending.num_rows > limit:
            pending = pending.slice(0, limit)
        while pending.num_rows >= batch_rows:
            yield pending.slice(0, batch_rows)
            pending, yielded = pending.slice(batch_rows), True
            limit = None if limit is None else limit - batch_rows
        if limit is not None and pending.num_rows >= limit:
            break
    if pending.num_rows or not yielded:
        yield pending
