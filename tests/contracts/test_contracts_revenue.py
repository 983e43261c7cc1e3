"""Revenue splits are exact: the parts always sum to the amount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import SharingContract, SplitError, split

DISTRICT_SHARES = {
    "provider:traffic-bureau": 7_000,
    "party:district-data-center": 1_500,
    "platform": 1_000,
    "subject-pool:citizens": 500,
}


@st.composite
def shares(draw: st.DrawFn) -> dict[str, int]:
    """Random party names with basis points that sum to 10,000."""
    parties = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=8, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(parties) - 1,
                                max_size=len(parties) - 1)))  # fmt: skip
    bounds = [0, *cuts, 10_000]
    return {party: bounds[i + 1] - bounds[i] for i, party in enumerate(parties)}


@given(st.integers(0, 10**15), shares())
def test_parts_always_sum_to_the_amount_and_stay_within_one_fen_of_exact(
    amount: int, shares_bp: dict[str, int]
) -> None:
    parts = split(amount, shares_bp)
    assert sum(parts.values()) == amount
    assert set(parts) == set(shares_bp)
    for party, part in parts.items():
        exact_times_10000 = amount * shares_bp[party]
        assert part * 10_000 - 10_000 < exact_times_10000 <= part * 10_000 + 10_000
        assert part >= 0


@given(st.integers(0, 10**9), shares(), st.randoms())
def test_split_does_not_depend_on_the_order_of_parties(
    amount: int, shares_bp: dict[str, int], rng
) -> None:
    items = list(shares_bp.items())
    rng.shuffle(items)
    assert split(amount, dict(items)) == split(amount, shares_bp)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (10_000, {"a": 3_334, "b": 3_333, "c": 3_333}),
        (1, {"a": 1, "b": 0, "c": 0}),
        (2, {"a": 1, "b": 1, "c": 0}),
        (0, {"a": 0, "b": 0, "c": 0}),
    ],
)
def test_leftover_fen_go_to_the_largest_remainders_then_by_name(
    amount: int, expected: dict[str, int]
) -> None:
    assert split(amount, {"c": 3_333, "b": 3_333, "a": 3_334}) == expected


def test_a_district_payment_splits_into_provider_district_platform_and_pool() -> None:
    assert split(123_457, DISTRICT_SHARES) == {
        "provider:traffic-bureau": 86_420,
        "party:district-data-center": 18_518,
        "platform": 12_346,
        "subject-pool:citizens": 6_173,
    }


@pytest.mark.parametrize(
    ("amount", "shares_bp", "message"),
    [
        (100, {"a": 5_000, "b": 4_999}, r"must sum to 10000 basis points; they sum to 9999"),
        (100, {"a": 10_001, "b": -1}, r"share of 'b' must be a non-negative int"),
        (100, {"a": 10_000.0}, r"share of 'a' must be a non-negative int of basis points"),
        (100, {}, r"non-empty mapping"),
        (100, {"": 10_000}, r"party names must be non-empty strings"),
        (-1, {"a": 10_000}, r"amount_minor must be a non-negative int of minor units; got -1"),
        (1.5, {"a": 10_000}, r"got 1.5"),
        (True, {"a": 10_000}, r"got True"),
    ],
)
def test_bad_splits_are_refused_with_the_reason(
    amount: object, shares_bp: dict[str, object], message: str
) -> None:
    with pytest.raises(SplitError, match=message):
        split(amount, shares_bp)  # type: ignore[arg-type]


def test_a_sharing_contract_checks_its_shares_once_and_is_read_only() -> None:
    contract = SharingContract("district-7", DISTRICT_SHARES)
    assert contract.split(10_000)["platform"] == 1_000
    with pytest.raises(TypeError):
        contract.shares_bp["platform"] = 0  # type: ignore[index]
    with pytest.raises(SplitError, match="sum to 9000"):
        SharingContract("bad", {"provider:x": 9_000})
