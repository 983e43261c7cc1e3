"""Double entry: balanced transactions, exact splits, balances derived from postings."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts import (
    ESCROW,
    InMemoryStore,
    InvalidEntry,
    InvalidTime,
    Ledger,
    LedgerStore,
    NotCanonical,
    Posting,
    ProofError,
    SplitError,
    Transaction,
    UnbalancedTransaction,
    buyer_account,
    payment,
    payout,
    refund_from_shares,
    split_from_escrow,
    verify_inclusion,
)
from contracts.merkle import leaf_hash
from tests.contracts.contracts_samples import SHARES, T0


def test_balances_are_derived_from_postings_and_sum_to_zero(ledger: Ledger) -> None:
    balances = ledger.balances()
    assert balances == {
        "buyer:acme": -120_001,
        "buyer:metro-lab": 0,
        ESCROW: 0,
        "provider:traffic-bureau": 84_001,
        "party:district-data-center": 18_000,
        "platform": 12_000,
        "subject-pool:citizens": 6_000,
    }
    assert sum(balances.values()) == 0


def test_a_ledger_reopened_on_its_store_has_the_same_root_and_balances(ledger: Ledger) -> None:
    reopened = Ledger(ledger.store)
    assert reopened.size == ledger.size == 7
    assert reopened.tree.root() == ledger.tree.root()
    assert reopened.balances() == ledger.balances()


def test_balances_follow_appends_made_after_they_were_first_derived(ledger: Ledger) -> None:
    before = ledger.balances()["platform"]
    ledger.append_transaction(payout("platform", 2_000, time=T0, reference="bank-77"))
    assert ledger.balances()["platform"] == before - 2_000
    assert ledger.balances()["payouts"] == 2_000


def test_entries_appended_by_another_writer_are_taken_in_by_refresh(ledger: Ledger) -> None:
    other = Ledger(ledger.store)
    ledger.balances()
    other.append_transaction(payment("acme", 500, time=T0, lease_id="L3"))
    assert ledger.refresh() == 8
    assert ledger.tree.root() == other.tree.root()
    assert ledger.balances()[ESCROW] == 500


def test_every_entry_has_a_type_and_an_inclusion_proof(ledger: Ledger) -> None:
    types = [ledger.entry(i)["type"] for i in range(ledger.size)]
    assert types[:4] == ["transaction", "access", "transaction", "desensitization_receipt"]
    root = ledger.tree.root()
    for index in range(ledger.size):
        proof = ledger.inclusion_proof(index)
        leaf = ledger.store.get(index)
        assert verify_inclusion(leaf_hash(leaf), index, ledger.size, proof, root)


def test_the_in_memory_store_meets_the_store_protocol() -> None:
    store = InMemoryStore()
    assert isinstance(store, LedgerStore)
    assert store.append(b"a") == 0 and store.append(b"b") == 1
    assert list(store.entries(1)) == [b"b"] and store.size() == 2
    with pytest.raises(IndexError, match="no ledger entry 5; the store has 2"):
        store.get(5)


def test_a_split_credits_each_party_exactly_its_share() -> None:
    tx = split_from_escrow(10_001, SHARES, time=T0, lease_id="L1")
    assert [p.as_tuple() for p in tx.postings] == [
        (ESCROW, -10_001, "CNY"),
        ("provider:traffic-bureau", 7_001, "CNY"),
        ("party:district-data-center", 1_500, "CNY"),
        ("platform", 1_000, "CNY"),
        ("subject-pool:citizens", 500, "CNY"),
    ]
    assert tx.meta["shares_bp"] == SHARES and tx.meta["amount_minor"] == 10_001


def test_the_same_payment_gets_the_same_id_and_reads_back_from_its_leaf() -> None:
    first = payment("acme", 9_900, time=T0, lease_id="L1")
    assert first.id == payment("acme", 9_900, time=T0, lease_id="L1").id
    assert first.id != payment("acme", 9_901, time=T0, lease_id="L1").id
    assert Transaction.from_entry(first.to_entry()) == first


def test_postings_that_do_not_sum_to_zero_are_refused() -> None:
    postings = (Posting(buyer_account("acme"), -100), Posting(ESCROW, 99))
    with pytest.raises(UnbalancedTransaction, match=r"do not sum to zero: \{'CNY': -1\}"):
        Transaction("tx-1", "payment", T0, postings)


def test_each_currency_must_balance_on_its_own() -> None:
    postings = (
        Posting(buyer_account("acme"), -100, "CNY"),
        Posting(ESCROW, 100, "HKD"),
    )
    with pytest.raises(UnbalancedTransaction, match=r"'CNY': -100, 'HKD': 100"):
        Transaction("tx-1", "payment", T0, postings)


def test_a_split_that_differs_from_the_exact_split_is_refused() -> None:
    postings = (
        Posting(ESCROW, -10_001),
        Posting("provider:traffic-bureau", 7_000),
        Posting("platform", 3_001),
    )
    meta = {
        "amount_minor": 10_001,
        "shares_bp": {"provider:traffic-bureau": 7_000, "platform": 3_000},
    }
    with pytest.raises(SplitError, match=r"do not equal split\(10001, shares_bp\)"):
        Transaction("tx-1", "split", T0, postings, meta)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: payment("acme", 0, time=T0, lease_id="L"), InvalidEntry, "positive int"),
        (lambda: payment("acme", 10.5, time=T0, lease_id="L"), InvalidEntry, "got 10.5"),
        (lambda: payment("ac:me", 1, time=T0, lease_id="L"), InvalidEntry, "without ':'"),
        (
            lambda: payment("acme", 1, time=datetime(2025, 3, 1), lease_id="L"),
            InvalidTime,
            "must be timezone-aware",
        ),
        (
            lambda: payment("acme", 1, time=T0, lease_id="L", meta={"rate": 0.5}),
            NotCanonical,
            r"floats are not allowed.*\$\.meta\.rate",
        ),
        (
            lambda: Transaction("tx", "gift", T0, (Posting("a", -1), Posting("b", 1))),
            InvalidEntry,
            "kind must be one of",
        ),
        (
            lambda: Transaction("tx", "payment", T0, (Posting("a", 0),)),
            InvalidEntry,
            "non-zero int",
        ),
        (
            lambda: Transaction("tx", "payment", T0, (Posting("a", -1, "cny"), Posting("b", 1))),
            InvalidEntry,
            "ISO 4217",
        ),
        (
            lambda: Transaction("tx", "payout", T0, (Posting("a", 5),)),
            InvalidEntry,
            "needs two or more postings",
        ),
    ],
)
def test_malformed_transactions_are_refused_with_the_reason(build, error, message: str) -> None:
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("transaction", {}, "is reserved; use append_transaction"),
        ("Access Event", {}, "record kind must be lower-case"),
        ("access", {"epsilon": 0.5}, r"floats are not allowed"),
        ("access", ["not", "a", "mapping"], "body must be a mapping"),
    ],
)
def test_bad_records_are_refused(ledger: Ledger, kind: str, body: object, message: str) -> None:
    size = ledger.size
    with pytest.raises((InvalidEntry, NotCanonical), match=message):
        ledger.append_record(kind, body)  # type: ignore[arg-type]
    assert ledger.size == size == ledger.store.size()


def test_proofs_beyond_the_log_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ProofError, match=r"leaf index must be in \[0, 7\); got 7"):
        ledger.inclusion_proof(7)


def test_a_refund_after_the_split_takes_back_each_share_exactly(ledger: Ledger) -> None:
    tx = refund_from_shares("acme", 60_001, SHARES, time=T0, lease_id="L1")
    ledger.append_transaction(tx)
    balances = ledger.balances()
    assert balances["buyer:acme"] == -60_000
    assert balances["provider:traffic-bureau"] == 84_001 - 42_001
    assert sum(balances.values()) == 0


def test_a_clawback_that_differs_from_the_exact_split_is_refused() -> None:
    tx = refund_from_shares("acme", 10_001, SHARES, time=T0, lease_id="L1")
    postings = list(tx.postings)
    postings[0] = Posting(postings[0].account, postings[0].amount_minor + 1)
    postings[1] = Posting(postings[1].account, postings[1].amount_minor - 1)
    with pytest.raises(SplitError, match=r"refund tx-1: debits .* do not equal split\(10001"):
        Transaction("tx-1", "refund", T0, postings, tx.meta)
