"""CSV for extracts: Arrow batches written by pyarrow's CSV writer, formulas neutralised.

CSV extracts end up in spreadsheets, where a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is run as a formula (CSV injection). So
CSV cells and headers that start with one of those get a leading apostrophe, as
OWASP advises; numeric columns are never touched, so -5 stays the number -5.
Cells are checked with Arrow compute kernels over whole columns (a dictionary
column over its dictionary only), never value by value in Python.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = [
    "FORMULA_PREFIXES",
    "csv_chunks",
    "neutralise_array",
    "neutralise_batch",
    "neutralise_names",
]

# The full-width forms too: spreadsheets with a Chinese input method accept them as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_FIRST_CHARACTERS = pa.array(FORMULA_PREFIXES)


def neutralise_array(values: pa.Array) -> pa.Array:
    """``values`` with every text cell that could be taken for a formula prefixed by an
    apostrophe; the same array when nothing needs changing.

    Idempotent: a neutralised cell starts with an apostrophe, so it is left alone
    the second time.
    """
    if isinstance(values, pa.DictionaryArray):
        dictionary = neutralise_array(values.dictionary)
        if dictionary is values.dictionary:
            return values
        return pa.DictionaryArray.from_arrays(values.indices, dictionary)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values  # numbers, dates, booleans: a spreadsheet shows them as values
    first = pc.utf8_slice_codeunits(values, 0, 1)
    formula = pc.is_in(first, value_set=_FIRST_CHARACTERS.cast(values.type))
    if not pc.any(formula).as_py():
        return values
    quote, nothing = pa.scalar("'", values.type), pa.scalar("", values.type)
    return pc.if_else(formula, pc.binary_join_element_wise(quote, values, nothing), values)


def neutralise_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its text cells and its column names neutralised."""
    return pa.RecordBatch.from_arrays(
        [neutralise_array(column) for column in batch.columns],
        names=neutralise_names(batch.schema.names),
    )


def neutralise_names(names: Iterable[object]) -> list[str]:
    """Column names for a CSV header, neutralised like cells: headers come from uploads too."""
    return [f"'{n}" if str(n).startswith(FORMULA_PREFIXES) else str(n) for n in names]


def csv_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """UTF-8 CSV of ``batches`` (all of ``schema``), one chunk per batch after the header.

    The header is written even when there are no batches. Dictionary columns are written as
    their values, and timestamps without the zeros of an empty fraction of a second."""
    names = neutralise_names(schema.names)
    plain = pa.schema([pa.field(n, _csv_type(f.type)) for n, f in zip(names, schema, strict=True)])
    sink = io.BytesIO()
    with pacsv.CSVWriter(sink, plain) as writer:
        yield _drain(sink)  # the header, written when the writer opens
        for batch in batches:
            neutral = neutralise_batch(batch)
            writer.write_batch(
                pa.RecordBatch.from_arrays(
                    [_csv_values(column) for column in neutral.columns], schema=plain
                )
            )
            yield _drain(sink)
    if rest := _drain(sink):
        yield rest


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def _csv_type(kind: pa.DataType) -> pa.DataType:
    kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    return pa.string() if pa.types.is_timestamp(kind) else kind


def _csv_values(column: pa.Array) -> pa.Array:
    if isinstance(column, pa.DictionaryArray):
        column = column.dictionary_decode()
    if not pa.types.is_timestamp(column.type):
        return column
    # Arrow writes every timestamp with nine decimals ("1990-05-03 00:00:00.000000000");
    # the trailing zeros of the fraction, and a fraction of only zeros, carry nothing.
    text = pc.replace_substring_regex(pc.cast(column, pa.string()), r"(\.\d*?)0+(Z?)$", r"\1\2")
    return pc.replace_substring_regex(text, r"\.(Z?)$", r"\1")
