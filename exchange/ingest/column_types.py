"""Decide each CSV column's type over all its values, then convert text batches alike.

pandas and pyarrow infer types from the first rows or block, so one file could
yield batches of different dtypes, and a card number would lose its leading zero.
Here a column's type is narrowed batch by batch over the whole file and then
applied to every batch: digits that look like identifiers stay text, ISO-8601
values become datetimes, integers and booleans with gaps use pandas' nullable
dtypes in every batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exchange.ingest.errors import UploadError

__all__ = ["NULLABLE", "Kinds", "infer_kinds", "pinned_kinds", "to_frame", "to_table"]

Kinds = dict[str, tuple[str, bool]]  # column -> (kind, has missing values)

_INT = r"^[+-]?\d+$"
# Digits kept as text: a leading zero, a '+' (E.164 phone) or 11+ digits (mobile, ID, card).
_ID_LIKE = r"^\+|^-?0\d|\d{11}"
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_PATTERNS = {
    "bool": None,
    "int": _INT,
    "datetime": rf"^{_DATE}({_TIME})?$",
    "datetime_utc": rf"^{_DATE}{_TIME} ?(Z|[+-]\d{{2}}(:?\d{{2}})?)$",
}
_PREFERENCE = ("bool", "int", "float", "datetime", "datetime_utc")
NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
# Dtype names as an earlier read reported them -> (kind, nullable).
_PINNED = {
    "int64": ("int", False),
    "Int64": ("int", True),
    "float64": ("float", False),
    "bool": ("bool", False),
    "boolean": ("bool", True),
    "datetime64[ns]": ("datetime", False),
    "datetime64[ns, UTC]": ("datetime_utc", False),
    "object": ("string", False),
    "string": ("string", False),
    "str": ("string", False),
}


class _Traits:
    """What the values of one text column could still be, narrowed batch by batch."""

    def __init__(self) -> None:
        self.possible = set(_PREFERENCE)
        self.id_like = self.nulls = self.values = False

    def update(self, column: pa.ChunkedArray) -> None:
        self.nulls = self.nulls or column.null_count > 0
        present = pc.drop_null(column)
        if not len(present):
            return
        self.values = True
        for kind in set(_PATTERNS) & self.possible:
            if not pc.all(_matches(present, kind)).as_py():
                self.possible.discard(kind)
        if "int" in self.possible and not self.id_like:
            self.id_like = pc.any(pc.match_substring_regex(present, _ID_LIKE)).as_py()
        if "float" in self.possible and not _casts_to_float(present):
            self.possible.discard("float")
        for kind in {"datetime", "datetime_utc"} & self.possible:
            parsed = pd.to_datetime(
                present.to_pandas(), format="ISO8601", errors="coerce", utc=kind == "datetime_utc"
            )
            if parsed.isna().any():  # e.g. 2026-02-30: shaped like a date, but is none
                self.possible.discard(kind)

    def kind(self) -> str:
        if not self.values:
            return "string"
        found = next((k for k in _PREFERENCE if k in self.possible), "string")
        return "string" if found == "int" and self.id_like else found


def _matches(values: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    if kind == "bool":
        return pc.is_in(pc.utf8_lower(values), pa.array(["true", "false"]))
    return pc.match_substring_regex(values, _PATTERNS[kind])


def _casts_to_float(values: pa.ChunkedArray) -> bool:
    try:
        pc.cast(values, pa.float64())
    except pa.ArrowInvalid:
        return False
    return True


def infer_kinds(names: list[str], tables: Iterable[pa.Table]) -> Kinds:
    """Each column's kind and whether it has missing values, over all ``tables``."""
    traits = {name: _Traits() for name in names}
    for table in tables:
        for name in names:
            traits[name].update(table.column(name))
    return {name: (t.kind(), t.nulls) for name, t in traits.items()}


def pinned_kinds(names: list[str], dtypes: Mapping[str, str]) -> Kinds:
    """Kinds from dtype names recorded earlier (e.g. a dataset's schema); unlisted columns stay text."""
    kinds = {}
    for name in names:
        dtype = dtypes.get(name, "object")
        if dtype not in _PINNED:
            raise ValueError(f"column {name!r}: CSV text cannot be read as dtype {dtype!r}")
        kinds[name] = _PINNED[dtype]
    return kinds


def to_frame(table: pa.Table, kinds: Kinds) -> pd.DataFrame:
    """Convert an all-string table to a DataFrame with the decided types."""
    return pd.DataFrame(
        {name: _converted(table, name, kinds, _convert) for name in table.column_names}
    )


def to_table(table: pa.Table, kinds: Kinds, schema: pa.Schema) -> pa.Table:
    """Convert an all-string table to the decided types without a trip through pandas.

    ``schema`` is ``pa.Table.from_pandas`` of an earlier batch's :func:`to_frame`, whose
    pandas metadata brings the same dtypes back (nullable integers, tz-aware times); the
    values are those :func:`to_frame` would give, so ``to_table(...).to_pandas()`` is
    ``to_frame(...)``."""
    columns = []
    for field in schema:
        values = _converted(table, field.name, kinds, _convert_arrow)
        columns.append(values if values.type == field.type else pc.cast(values, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _converted(table: pa.Table, name: str, kinds: Kinds, convert: Any) -> Any:
    kind, nullable = kinds[name]
    try:
        return convert(table.column(name), kind, nullable)
    except (pa.ArrowInvalid, ValueError, TypeError):
        raise UploadError(
            f"column {name!r} has values that do not fit its type ({kind}) taken from earlier rows"
        ) from None


def _convert(column: pa.ChunkedArray, kind: str, nullable: bool) -> pd.Series:
    mapper = NULLABLE.get if nullable else None
    if kind in ("int", "bool") and not nullable and column.null_count:
        raise ValueError("missing values in a column decided to have none")  # dtype would change
    if kind == "int":
        return pc.cast(column, pa.int64()).to_pandas(types_mapper=mapper)
    if kind == "float":
        return pc.cast(column, pa.float64()).to_pandas()
    if kind == "bool":
        return pc.equal(pc.utf8_lower(column), "true").to_pandas(types_mapper=mapper)
    if kind in ("datetime", "datetime_utc"):
        return pd.to_datetime(column.to_pandas(), format="ISO8601", utc=kind == "datetime_utc")
    return column.to_pandas()


def _convert_arrow(column: pa.ChunkedArray, kind: str, nullable: bool) -> pa.ChunkedArray:
    if kind in ("int", "bool") and not nullable and column.null_count:
        raise ValueError("missing values in a column decided to have none")
    if kind == "int":
        return pc.cast(column, pa.int64())
    if kind == "float":
        return pc.cast(column, pa.float64())
    if kind == "bool":
        return pc.equal(pc.utf8_lower(column), "true")
    if kind in ("datetime", "datetime_utc"):  # pandas' ISO 8601 reading, exactly as to_frame
        return pa.chunked_array([pa.Array.from_pandas(_convert(column, kind, nullable))])
    return column
