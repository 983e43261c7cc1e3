"""Guess an upload's format and text encoding from its name and first bytes."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from exchange.ingest.errors import UploadError

__all__ = ["PARQUET_MAGIC", "Format", "detect_encoding", "detect_format", "encoding_label"]

Format = Literal["csv", "parquet"]
PARQUET_MAGIC = b"PAR1"


def detect_format(filename: str, head: bytes) -> Format:
    """'parquet' if ``head`` starts with the Parquet magic, else 'csv'; spreadsheets are refused."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if Path(filename).suffix.lower() in (".parquet", ".pq"):
        raise UploadError("the file is named .parquet but is not a Parquet file")
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # xlsx/zip, legacy xls
        raise UploadError("spreadsheet and zip files are not accepted: upload CSV or Parquet")
    return "csv"


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """'utf-8-sig', 'utf-8' or 'gb18030' for CSV bytes that start with ``sample``.

    GB18030 is a superset of GBK and GB2312, in which Chinese spreadsheets often
    export CSV. Unless ``complete`` says the sample is the whole file, a multi-byte
    character cut off at the sample's end is not held against it.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UploadError("the file is UTF-16 text: save it as UTF-8 CSV")
    if b"\x00" in sample:
        raise UploadError("the file looks binary (it contains NUL bytes), not CSV text")
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UploadError("the file is neither UTF-8 nor GBK/GB18030 text")


def encoding_label(encoding: str) -> str:
    """How an encoding is named in messages to the uploader."""
    name = codecs.lookup(encoding).name
    return "UTF-8" if name.startswith("utf-8") else name.upper()
