"""The escrow rules taken as columns (running sums per lease and currency) must find a
ledger's money in order exactly when the entry-by-entry book does; and worker ranges
numbered by the seq their first line claims give the same audit when a claim is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    Ledger,
    payment,
    public_key_bytes,
    split_from_escrow,
    verify_export,
    verify_export_file,
)
from contracts.escrow import EscrowBook, FlowColumns, Money, check_in_log_order
from tests.contracts.contracts_samples import SHARES, T0

KINDS = ["payment", "split", "refund", "payout", "dividend"]


@st.composite
def money(draw: st.DrawFn) -> list[Money]:
    """Transactions in log order, mostly payments and splits that keep every rule, with
    refunds, payouts, dividends, a second currency and amounts that break them."""
    rows: list[Money] = []
    for index in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(KINDS))
        lease = draw(st.sampled_from(["L1", "L2", "L3"]))
        currency = draw(st.sampled_from(["CNY", "CNY", "USD"]))
        amount = draw(st.integers(1, 1_000))
        moves: dict[str, int] = {}
        credited: dict[str, int] = {}
        if kind == "payment":
            moves[currency] = draw(st.sampled_from([amount, amount, -amount]))
        elif kind in ("split", "refund"):
            moves[currency] = -amount
            credited[currency] = amount
            if draw(st.booleans()):  # a refund taken back from the parties
                moves = {}
        elif draw(st.booleans()):
            moves[currency] = draw(st.sampled_from([amount, -amount]))
        if draw(st.integers(0, 9)) == 0:  # a second currency in one transaction
            moves["EUR"] = draw(st.integers(-50, 50)) or 1
        rows.append((index, kind, lease if kind in ("payment", "split", "refund") else None,
                     moves, credited))  # fmt: skip
    return rows


@settings(max_examples=100, deadline=None)
@given(money())
def test_columns_hold_exactly_when_the_book_finds_no_broken_rule(rows: list[Money]) -> None:
    columns = FlowColumns.from_money(rows)
    assert columns is not None
    assert columns.rules_hold() == (EscrowBook().check_in_order(rows) is None)


@settings(max_examples=60, deadline=None)
@given(money(), st.integers(0, 40))
def test_money_split_between_tuples_and_columns_finds_the_same_entry(
    rows: list[Money], cut: int
) -> None:
    # The columns of one part go back to tuples (money()) when a rule may be broken.
    part = FlowColumns.from_money(rows[cut:])
    assert part is not None
    assert list(part.money()) == [row for row in rows[cut:] if row[3] or row[4]]
    expected = EscrowBook().check_in_order([row for row in rows if row[3] or row[4]])
    assert check_in_log_order(rows[:cut], [part]) == expected


def test_a_lease_kind_without_a_lease_is_left_to_the_book() -> None:
    rows: list[Money] = [(0, "payment", "", {"CNY": 5}, {})]
    assert FlowColumns.from_money(rows) is None
    assert check_in_log_order(rows, []) == (
        0,
        "a payment must name its lease in meta.lease_id; got ''",
    )


def test_sums_that_could_overflow_int64_are_left_to_the_book() -> None:
    rows: list[Money] = [(i, "payment", "L1", {"CNY": 2**61}, {}) for i in range(4)]
    columns = FlowColumns.from_money(rows)
    assert columns is not None and not columns.rules_hold()
    assert check_in_log_order(rows, []) is None


@pytest.mark.parametrize("removed", [1, 150, 299, 450, 599])
@pytest.mark.parametrize("workers", [2, 3])
def test_ranges_after_a_deleted_line_are_numbered_by_their_true_position(
    removed: int, workers: int, signing_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    log = Ledger()
    for lease in range(200):
        log.append_transaction(payment(f"b{lease % 7}", 100 + lease, time=T0, lease_id=f"L{lease}"))
        log.append_record("access", {"lease_id": f"L{lease}", "rows": lease})
        log.append_transaction(
            split_from_escrow(100 + lease, SHARES, time=T0, lease_id=f"L{lease}")
        )
    lines = list(log.export_lines(signing_key, now=T0))
    del lines[1 + removed]  # after the header
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    key = public_key_bytes(signing_key)
    by_lines = verify_export(lines, key)
    report = verify_export_file(path, key, workers=workers)
    assert not report.ok and report.first_failing_index == removed
    assert (report.first_failing_index, report.reason) == (
        by_lines.first_failing_index,
        by_lines.reason,
    )
