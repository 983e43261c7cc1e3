"""Guess an upload's format and text encoding from its name and first bytes.

UTF-8 is taken when the bytes are valid UTF-8 (other encodings of non-ASCII text
almost never are). Otherwise charset-normalizer chooses among the encodings in
which Chinese, Japanese, Korean and Western spreadsheets export CSV, judging how
plausible the decoded text is: GB18030 decodes nearly any bytes, so a Big5 or
Shift-JIS file must not simply be the first that decodes.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from charset_normalizer import from_bytes

from exchange.ingest.errors import UploadError

__all__ = [
    "ENCODINGS_TRIED",
    "PARQUET_MAGIC",
    "Format",
    "check_text_encoding",
    "detect_encoding",
    "detect_format",
    "encoding_label",
]

Format = Literal["csv", "parquet"]
PARQUET_MAGIC = b"PAR1"
# GB18030 covers GBK and GB2312; CP932 is Shift-JIS as Windows writes it; CP949 covers EUC-KR.
ENCODINGS_TRIED = ("utf-8", "gb18030", "big5", "cp932", "euc_jp", "cp949", "cp1252")
_ASCII_PROBE = 'a,;\t|"\r\n'


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
    """The text encoding of CSV bytes that start with ``sample``, as a Python codec name.

    Unless ``complete`` says the sample is the whole file, only its complete lines
    are judged, so a character cut off at the sample's end is not held against it.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UploadError("the file is UTF-16 text: save it as UTF-8 CSV")
    if b"\x00" in sample:
        raise UploadError("the file looks binary (it contains NUL bytes), not CSV text")
    if not complete and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # no encoding here has b"\n" in a character
    if _decodes(sample, "utf-8", complete):
        return "utf-8"
    best = _most_plausible(sample)
    if best is not None and _decodes(sample, best, complete):
        return codecs.lookup(best).name
    tried = ", ".join(encoding_label(e) for e in ENCODINGS_TRIED)
    raise UploadError(
        f"the file does not decode cleanly as text in any of the encodings tried ({tried}): "
        "save it as UTF-8 CSV, or name its encoding in the form field 'encoding'"
    )


def check_text_encoding(name: str) -> str:
    """The codec name for ``name``, if CSV can be read in it (newlines, quotes and
    delimiters are single ASCII bytes); else a ValueError saying why."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"{name!r} is not a known text encoding") from None
    try:
        encoded = _ASCII_PROBE.encode(info.name).removeprefix(codecs.BOM_UTF8)
        ascii_compatible = encoded == _ASCII_PROBE.encode("ascii")
    except (UnicodeError, TypeError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise ValueError(f"{name!r} is not an ASCII-compatible text encoding (as UTF-8 or GBK are)")
    return info.name


def encoding_label(encoding: str) -> str:
    """How an encoding is named in messages to the uploader."""
    name = codecs.lookup(encoding).name
    return "UTF-8" if name.startswith("utf-8") else name.upper()


def _most_plausible(sample: bytes) -> str | None:
    """charset-normalizer's choice; a tie with GB18030 (short samples of a few Chinese
    characters decode as plausibly in Big5 or EUC-KR) goes to GB18030, the local default."""
    matches = list(from_bytes(sample, cp_isolation=list(ENCODINGS_TRIED[1:])))
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        tied = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.01
        if tied and codecs.lookup(match.encoding).name == "gb18030":
            return match.encoding
    return best.encoding


def _decodes(sample: bytes, encoding: str, complete: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True
