"""The exchange's log is contracts' Ledger over the ledger_entries table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from contracts import (
    InMemoryStore,
    Ledger,
    LedgerStore,
    payment,
    split_from_escrow,
    verify_export,
)
from contracts import merkle as merkle_module
from exchange.context import Exchange
from exchange.db.session import transaction
from exchange.services.ledger import SessionStore, TableStore
from exchange.settings import Settings

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SHARES = {"provider:p1": 9_000, "platform": 1_000}


@pytest.fixture
def exchange(settings: Settings, backend: str) -> Iterator[Exchange]:
    opened = Exchange.open(settings)
    yield opened
    opened.close()


def _pay(exchange: Exchange, lease_id: str, amount: int) -> None:
    with transaction(exchange.sessions) as session:
        exchange.log.post(session, payment("b1", amount, time=T0, lease_id=lease_id))
        exchange.log.post(session, split_from_escrow(amount, SHARES, time=T0, lease_id=lease_id))
        exchange.log.record(session, "lease_paid", actor="b1", lease=lease_id)


def test_the_table_stores_meet_the_store_protocol(exchange: Exchange) -> None:
    assert isinstance(TableStore(exchange.sessions), LedgerStore)
    with exchange.sessions() as session:
        assert isinstance(SessionStore(session), LedgerStore)


def test_an_append_rolled_back_never_reaches_a_head(exchange: Exchange) -> None:
    _pay(exchange, "L1", 10_000)
    before = exchange.log.head()
    with pytest.raises(RuntimeError), transaction(exchange.sessions) as session:
        assert exchange.log.post(session, payment("b1", 5, time=T0, lease_id="L2")) == 3
        raise RuntimeError("the payment's other writes failed")
    assert exchange.log.head().root == before.root
    _pay(exchange, "L3", 20_000)
    assert exchange.log.size() == 6  # indexes stay dense after the rollback
    with exchange.sessions() as session:
        assert [i for i, _ in exchange.log.entries(session)] == list(range(6))
        assert [i for i, _ in exchange.log.entries(session, subject="L3")] == [3, 4, 5]


def test_the_tree_and_balances_are_the_contracts_ledger_over_the_committed_rows(
    exchange: Exchange,
) -> None:
    _pay(exchange, "L1", 10_001)
    with exchange.sessions() as session:
        leaves = list(SessionStore(session).entries())
    reference = Ledger(InMemoryStore(leaves))
    assert exchange.log.head().root == reference.tree.root()
    assert exchange.log.balances("CNY") == dict(sorted(reference.balances().items()))
    assert exchange.log.balances("CNY")["escrow"] == 0


def test_the_export_verifies_and_takes_leaf_hashes_from_the_tree(
    exchange: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    for lease in range(3):
        _pay(exchange, f"L{lease}", 1_000 + lease)
    exchange.log.size()  # the tree is loaded and in step with the table
    hashed: list[bytes] = []
    real_sha256 = merkle_module.sha256

    def counting(data: bytes = b"") -> object:
        hashed.append(bytes(data))
        return real_sha256(data)

    monkeypatch.setattr(merkle_module, "sha256", counting)
    lines = list(exchange.log.export_lines())
    assert not [data for data in hashed if data[:1] == b"\x00"]  # no leaf hashed again
    report = verify_export(lines, exchange.signer.public_raw)
    assert report.ok, report.reason
    assert report.entries_checked == 9
