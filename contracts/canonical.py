"""Canonical JSON: the one byte form that is hashed, signed and exported.

Sorted keys, compact separators, UTF-8 (with U+0085, U+2028 and U+2029 escaped, so
that every leaf stays on one line), and no floats anywhere: money is integer
minor units and decimals (an epsilon such as ``"0.5"``) travel as strings, so the
same value always gives the same bytes on every platform.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.errors import NotCanonical

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)
_SCALARS = (str, int, bool, type(None))
_LINE_BREAKS = (("\u0085", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 JSON bytes of ``value``; refuse floats and odd types."""
    if not _plain(value):
        _check(value, "$")  # walks again, naming where the value is not plain
    text = _ENCODER.encode(value)
    if not text.isascii():
        # Line separators stay escaped so that a leaf is one line for every line splitter.
        for char, escape in _LINE_BREAKS:
            text = text.replace(char, escape)
    return text.encode("utf-8")


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what canonical JSON encodes; no paths are built, so a
    ledger entry of many postings is checked quickly."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) in _SCALARS:
                continue
            if type(item) is dict:  # e.g. a posting: its scalars checked here, without a call
                for key, field in item.items():
                    if type(key) is not str or (type(field) not in _SCALARS and not _plain(field)):
                        return False
            elif not _plain(item):
                return False
        return True
    return isinstance(value, (str, int))  # str or int subclasses; never a float


def _check(value: Any, path: str) -> None:
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise NotCanonical(
                    f"canonical JSON keys must be strings; {path} has key {key!r}", path=path
                )
            _check(item, f"{path}.{key}")
        return
    if kind is list or kind is tuple:
        for position, item in enumerate(value):
            _check(item, f"{path}[{position}]")
        return
    if isinstance(value, float):
        raise NotCanonical(
            f"floats are not allowed in canonical JSON ({path} = {value!r}); "
            "pass money as integer minor units and decimals as strings such as '0.5'",
            path=path,
        )
    if isinstance(value, (str, int)):  # str or int subclasses such as StrEnum / IntEnum
        return
    raise NotCanonical(
        f"{path} has type {kind.__name__}, which canonical JSON does not encode; "
        "convert it to str, int, bool, None, list or dict first",
        path=path,
    )
