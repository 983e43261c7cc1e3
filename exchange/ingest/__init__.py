"""Reading uploads: detect format and text encoding, then parse CSV or Parquet into DataFrames.

pyarrow parses CSV as text; column types are decided over the whole file so that
every batch gets the same dtypes and identifier-like digits keep their leading
zeros. Errors name columns and line numbers, never cell values.
"""

from __future__ import annotations

from exchange.ingest.errors import UploadError
from exchange.ingest.sniff import Format, detect_encoding, detect_format
from exchange.ingest.tables import Source, iter_batches, read_table

__all__ = [
    "Format",
    "Source",
    "UploadError",
    "detect_encoding",
    "detect_format",
    "iter_batches",
    "read_table",
]
