"""Reading uploads: detect format, text encoding and delimiter, then parse CSV or Parquet
into DataFrames, within limits on what the upload expands to.

pyarrow parses CSV as text; column types are decided over the whole file so that
every batch gets the same dtypes and identifier-like digits keep their leading
zeros. Errors name columns and line numbers, never cell values.
"""

from __future__ import annotations

from exchange.ingest.delimiter import DELIMITERS, check_delimiter, detect_delimiter
from exchange.ingest.errors import UploadError, UploadTooLarge
from exchange.ingest.limits import Limits
from exchange.ingest.sniff import (
    ENCODINGS_TRIED,
    Format,
    check_text_encoding,
    detect_encoding,
    detect_format,
)
from exchange.ingest.tables import Source, iter_batches, iter_tables, read_table

__all__ = [
    "DELIMITERS",
    "ENCODINGS_TRIED",
    "Format",
    "Limits",
    "Source",
    "UploadError",
    "UploadTooLarge",
    "check_delimiter",
    "check_text_encoding",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "iter_batches",
    "iter_tables",
    "read_table",
]
