"""Canonical JSON: one byte form per value, and never a float."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts import InvalidTime, NotCanonical, canonical_json
from contracts.utc import format_utc, parse_utc


def test_keys_are_sorted_separators_compact_and_text_utf8() -> None:
    value = {"b": [1, True, None], "a": "深圳", "c": {"z": 0, "y": "x"}}
    assert canonical_json(value) == '{"a":"深圳","b":[1,true,null],"c":{"y":"x","z":0}}'.encode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"epsilon": 0.5}, r"floats are not allowed in canonical JSON \(\$\.epsilon = 0\.5\)"),
        ([1, [2, float("nan")]], r"\$\[1\]\[1\] = nan"),
        ({"amount": Decimal("1.5")}, r"\$\.amount has type Decimal"),
        ({1: "x"}, r"keys must be strings; \$ has key 1"),
        ({"when": datetime(2025, 1, 1, tzinfo=UTC)}, r"has type datetime"),
    ],
)
def test_values_without_one_canonical_form_are_refused(value: object, message: str) -> None:
    with pytest.raises(NotCanonical, match=message):
        canonical_json(value)


def test_times_are_written_in_utc_with_z_and_read_back() -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2025, 3, 1, 16, 0, tzinfo=beijing)
    assert format_utc(moment) == "2025-03-01T08:00:00Z"
    assert parse_utc("2025-03-01T08:00:00Z") == moment


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidTime, match="must be timezone-aware"):
        format_utc(datetime(2025, 3, 1, 8, 0))
    with pytest.raises(InvalidTime, match="must be timezone-aware"):
        parse_utc("2025-03-01T08:00:00")


def test_unicode_line_separators_are_escaped_so_a_leaf_stays_one_line() -> None:
    encoded = canonical_json({"note": "深圳\u2028line\u0085two\u2029"})
    assert encoded.decode().splitlines() == [encoded.decode()]
    assert encoded == '{"note":"深圳\\u2028line\\u0085two\\u2029"}'.encode()
