"""Which character separates a CSV file's fields: comma, semicolon, tab or pipe.

Spreadsheets in locales with a decimal comma export with semicolons (UCI Adult,
as ARX ships it, is ``sex;age;race;...``), databases often with tabs or pipes.
Each candidate splits the first records with the csv module, quotes respected;
the one that gives the same number of fields (more than one) on every record
wins, the most fields first, then in the order listed.
"""

from __future__ import annotations

import csv
import io

__all__ = ["DELIMITERS", "check_delimiter", "detect_delimiter"]

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_NAMES = {name: char for char, name in DELIMITERS.items()} | {"\\t": "\t"}
SAMPLE_RECORDS = 50


def detect_delimiter(text: str, *, complete: bool) -> str:
    """The delimiter of the CSV ``text`` (the file's first lines), ',' when nothing fits better.

    Unless ``complete``, the last record may be cut short and is not judged.
    """
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        counts = _field_counts(text, delimiter, complete)
        if counts and len(set(counts)) == 1 and counts[0] > best_fields:
            best, best_fields = delimiter, counts[0]
    if best_fields > 1:
        return best
    # No candidate splits every record alike (ragged rows): go by the header alone.
    header = {d: (_field_counts(text, d, True) or [1])[0] for d in DELIMITERS}
    choice = max(DELIMITERS, key=lambda d: header[d])
    return choice if header[choice] > 1 else ","


def check_delimiter(value: str) -> str:
    """The delimiter a form field names (the character, or comma/semicolon/tab/pipe)."""
    found = value if value in DELIMITERS else _NAMES.get(value.strip().lower())
    if found is None:
        raise ValueError("the delimiter must be one of: , ; tab |")
    return found


def _field_counts(text: str, delimiter: str, complete: bool) -> list[int]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    counts: list[int] = []
    try:
        for row in reader:
            if row:
                counts.append(len(row))
            if len(counts) > SAMPLE_RECORDS:
                break
    except csv.Error:
        return []
    if not complete and len(counts) > 1 and len(counts) <= SAMPLE_RECORDS:
        counts.pop()  # the sample ends somewhere in this record
    return counts
