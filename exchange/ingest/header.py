"""The header row of a CSV upload: parsed with Python's csv module and checked for sense."""

from __future__ import annotations

import codecs
import csv
import re

from exchange.ingest.errors import UploadError
from exchange.ingest.sniff import encoding_label

__all__ = ["check_names", "parse_header", "sample_text"]

_NUMBER_OR_DATE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|\d{4}-\d{2}-\d{2}.*")
_YEAR = re.compile(r"(19|20)\d\d")  # statistical tables do name columns 2023, 2024, ...
# Shapes of personal data (resident ID, mobile, e-mail, card or account numbers): a header
# that holds one is a data row, and echoing it back as a "column name" would leak it.
_PERSONAL = re.compile(
    r"\d{17}[\dXx]|(\+?86[- ]?)?1[3-9]\d{9}|[^@\s]+@[^@\s]+\.[A-Za-z]{2,}|[\d -]{9,}"
)


def sample_text(sample: bytes, encoding: str, *, complete: bool) -> str:
    """The text of ``sample`` (the file's first bytes), up to its first undecodable byte."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        # Judge the header by the valid part; the bad line is reported when rows are read.
        text = sample[: exc.start].decode(encoding)
        if "\n" not in text:
            raise UploadError(
                f"line 1 is not valid {encoding_label(encoding)} text", line=1
            ) from None
        return text


def parse_header(text: str, *, delimiter: str = ",") -> list[str]:
    """The column names in the first record of ``text`` (the file's first lines)."""
    try:
        reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
        names = next(reader, [])
    except csv.Error:
        raise UploadError("the header row has a malformed quoted field", line=1) from None
    if names:
        names[0] = names[0].removeprefix("\ufeff")
    _check_is_header(names)
    check_names(names)
    return names


def _check_is_header(names: list[str]) -> None:
    if not any(n.strip() for n in names):
        raise UploadError("the file has no header row (the first line is empty)", line=1)
    # A first line of numbers and dates is data; naming its "columns" would quote values.
    valuelike = sum(
        bool(_NUMBER_OR_DATE.fullmatch(n.strip())) and not _YEAR.fullmatch(n.strip()) for n in names
    )
    if valuelike * 2 >= len(names):
        raise UploadError("the first line holds values, not column names: add a header row", line=1)
    if any(_PERSONAL.fullmatch(n.strip()) for n in names):
        raise UploadError(
            "the first line holds personal data (an ID, phone, e-mail or card number), not "
            "column names: add a header row",
            line=1,
        )


def check_names(names: list[str]) -> None:
    """Every column has a name, and no two share one."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise UploadError(f"column {position} of the header has no name", line=1)
        if name in seen:
            raise UploadError(
                f"columns {seen[name]} and {position} have the same name {name!r}", line=1
            )
        seen[name] = position
