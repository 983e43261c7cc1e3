"""Quotes are deterministic, itemised, in integer fen, and never below the minimum."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from contracts import (
    ColumnKind,
    Grade,
    NotLeasable,
    PriceList,
    QuoteError,
    QuoteRequest,
    VolumeTier,
    quote,
)
from tests.contracts.contracts_samples import T0

PRICES = PriceList(base_minor_per_1000_rows=2_000, minimum_minor=50_000)
COLUMNS = {
    "trip_id": ColumnKind.PLAIN,
    "age_band": ColumnKind.QUASI_IDENTIFIER,
    "card_token": ColumnKind.IDENTIFIER,
    "diagnosis": ColumnKind.SENSITIVE,
}


def request(**changes: object) -> QuoteRequest:
    fields: dict[str, object] = {
        "rows": 250_000,
        "columns": COLUMNS,
        "grade": Grade.GENERAL,
        "start": T0,
        "end": T0 + timedelta(days=60),
        "epsilon": "0.5",
    }
    fields.update(changes)
    return QuoteRequest(**fields)  # type: ignore[arg-type]


def test_the_quote_lists_every_factor_and_their_product_is_the_total() -> None:
    priced = quote(PRICES, request(), now=T0)
    assert [f.name for f in priced.factors] == [
        "base",
        "rows",
        "columns",
        "grade",
        "period",
        "privacy",
        "exclusivity",
    ]
    by_name = {f.name: f for f in priced.factors}
    assert by_name["rows"].value == 190  # 100,000 at 100% + 150,000 at 60%
    assert "100,000 rows at 100%, 150,000 rows at 60%" in by_name["rows"].explanation
    assert by_name["columns"].value == Fraction(70_000, 10_000)  # 1 + 1.5 + 2 + 2.5
    assert by_name["period"].value == 2 and by_name["privacy"].value == Fraction(3, 2)
    assert priced.total_minor == 2_000 * 190 * 7 * 2 * 3 // 2 == 7_980_000
    assert isinstance(priced.total_minor, int) and not priced.minimum_applied
    assert "total: 7980000 CNY minor units" in priced.explain()


def test_the_same_inputs_give_the_same_quote_and_id() -> None:
    first, again = quote(PRICES, request(), now=T0), quote(PRICES, request(), now=T0)
    assert first == again and first.id.startswith("q-")
    assert quote(PRICES, request(rows=250_001), now=T0).id != first.id
    assert quote(PRICES, request(), now=T0 + timedelta(seconds=1)).id != first.id


def test_a_quote_expires_after_the_price_list_validity() -> None:
    priced = quote(PRICES, request(), now=T0)
    assert priced.expires_at == T0 + timedelta(hours=24)
    priced.check_valid(T0 + timedelta(hours=23))
    with pytest.raises(QuoteError, match=r"expired at 2025-03-02T08:00:00Z"):
        priced.check_valid(T0 + timedelta(hours=24))


def test_the_minimum_price_applies_to_small_requests() -> None:
    small = quote(PRICES, request(rows=10, columns={"trip_id": ColumnKind.PLAIN}), now=T0)
    assert small.subtotal_minor < 50_000 == small.total_minor
    assert small.minimum_applied and "minimum price applies: 50000" in small.explain()


@pytest.mark.parametrize(
    ("changes", "factor", "value"),
    [
        ({"epsilon": "1"}, "privacy", Fraction(2)),
        ({"epsilon": "0.1"}, "privacy", Fraction(11, 10)),
        ({"epsilon": None}, "privacy", Fraction(4)),
        ({"exclusive": True}, "exclusivity", Fraction(3)),
        ({"grade": Grade.IMPORTANT}, "grade", Fraction(3, 2)),
        ({"end": T0 + timedelta(days=1, seconds=1)}, "period", Fraction(2, 30)),
        ({"rows": 2_000_000}, "rows", Fraction(100 + 540 + 300)),
    ],
)
def test_each_input_moves_its_own_factor(changes: dict[str, object], factor: str, value) -> None:
    priced = quote(PRICES, request(**changes), now=T0)
    assert next(f for f in priced.factors if f.name == factor).value == value


def test_more_epsilon_and_more_sensitive_columns_cost_more() -> None:
    cheap = quote(PRICES, request(epsilon="0.1"), now=T0).total_minor
    assert quote(PRICES, request(epsilon="2"), now=T0).total_minor > cheap
    plain = {name: ColumnKind.PLAIN for name in COLUMNS}
    assert quote(PRICES, request(epsilon="0.1", columns=plain), now=T0).total_minor < cheap


def test_totals_round_half_up_once_at_the_end() -> None:
    prices = PriceList(base_minor_per_1000_rows=1, minimum_minor=0)
    one_row = request(rows=1, columns={"a": ColumnKind.PLAIN}, epsilon=None,
                      end=T0 + timedelta(days=30))  # fmt: skip
    # 1 x 1/1000 x 1 x 1 x 1 x 4 = 0.004 -> 0; 125 rows -> 0.5 -> 1
    assert quote(prices, one_row, now=T0).total_minor == 0
    half = QuoteRequest(**{**one_row.__dict__, "rows": 125})
    assert quote(prices, half, now=T0).total_minor == 1


def test_core_data_has_no_price() -> None:
    with pytest.raises(NotLeasable, match="core data is never leasable"):
        quote(PRICES, request(grade=Grade.CORE), now=T0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: request(epsilon=0.5), r"epsilon must be a decimal string.*never a float"),
        (lambda: request(epsilon="1e-3"), "epsilon must be a decimal string"),
        (lambda: request(epsilon="0"), "epsilon must be positive"),
        (lambda: request(rows=0), "rows must be an int >= 1"),
        (lambda: request(columns={}), "at least one column"),
        (lambda: request(end=T0), "must end after it starts"),
        (lambda: PriceList(base_minor_per_1000_rows=10.5, minimum_minor=0), "base_minor"),
        (
            lambda: PriceList(1, 0, volume_tiers=(VolumeTier(10, 10_000),)),
            "last volume tier must have up_to_rows=None",
        ),
        (
            lambda: PriceList(
                1, 0, volume_tiers=(VolumeTier(10, 1), VolumeTier(5, 1), VolumeTier(None, 1))
            ),  # fmt: skip
            "volume tier limits must increase",
        ),
    ],
)
def test_bad_price_inputs_are_refused(build, message: str) -> None:
    with pytest.raises(QuoteError, match=message):
        build()
