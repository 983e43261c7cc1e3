"""Signed tree heads: Ed25519 over size, root and time; consistency between two heads."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import (
    Ledger,
    SignedTreeHead,
    VerificationError,
    load_public_key,
    public_key_bytes,
    verify_consistency,
)
from tests.contracts.contracts_samples import T0


def test_a_head_verifies_and_round_trips_through_json(
    ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    head = ledger.head(signing_key, T0 + timedelta(microseconds=123_456))
    assert head.size == 7 and head.root == ledger.tree.root()
    assert head.time == T0 + timedelta(microseconds=123_000)  # signed to the millisecond
    assert head.verify(public_key_bytes(signing_key))
    assert SignedTreeHead.from_json(head.to_json()) == head


@pytest.mark.parametrize(
    "change",
    [
        {"size": 6},
        {"root": b"\x00" * 32},
        {"time": T0 + timedelta(seconds=1)},
    ],
)
def test_changing_size_root_or_time_breaks_the_signature(
    ledger: Ledger, signing_key: Ed25519PrivateKey, change: dict[str, object]
) -> None:
    head = dataclasses.replace(ledger.head(signing_key, T0), **change)
    assert not head.verify(public_key_bytes(signing_key))


def test_two_heads_of_a_growing_log_are_proved_consistent(
    ledger: Ledger, signing_key: Ed25519PrivateKey
) -> None:
    old = ledger.head(signing_key, T0)
    ledger.append_record("access", {"lease_id": "L1", "action": "download"}, time=T0)
    new = ledger.head(signing_key, T0 + timedelta(minutes=1))
    proof = ledger.consistency_proof(old.size, new.size)
    assert verify_consistency(old.size, new.size, old.root, new.root, proof)
    assert not verify_consistency(old.size, new.size, new.root, old.root, proof)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"size": 1}, "malformed signed tree head"),
        (
            {"size": -1, "root": "00" * 32, "signature": "", "time": "2025-03-01T08:00:00Z"},
            "size=-1",
        ),
        ({"size": 1, "root": "zz", "signature": "", "time": "2025-03-01T08:00:00Z"}, "malformed"),
    ],
)
def test_malformed_heads_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        SignedTreeHead.from_json(data)


def test_public_keys_that_are_not_ed25519_are_refused() -> None:
    with pytest.raises(VerificationError, match="neither PEM nor hex"):
        load_public_key("not a key")
    with pytest.raises(VerificationError, match="32 raw bytes"):
        load_public_key(b"\x01" * 31)
