"""Offline audit of an export: any change, deletion, reordering or truncation is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import (
    Ledger,
    Posting,
    SignedTreeHead,
    Transaction,
    VerificationError,
    payment,
    payout,
    public_key_bytes,
    refund,
    refund_from_shares,
    split_from_escrow,
    verify_export,
    verify_export_file,
)
from tests.contracts.contracts_samples import SHARES, T0

HEADER = 1  # lines before the first entry


@pytest.fixture
def export(ledger: Ledger, signing_key: Ed25519PrivateKey) -> list[str]:
    return list(ledger.export_lines(signing_key, now=T0))


@pytest.fixture
def public_key(signing_key: Ed25519PrivateKey) -> bytes:
    return public_key_bytes(signing_key)


def test_an_untouched_export_verifies_with_balances_and_root(
    ledger: Ledger, export: list[str], public_key: bytes
) -> None:
    report = verify_export(export, public_key)
    assert report.ok, report.reason
    assert report.entries_checked == ledger.size == 7
    assert report.root_hex == ledger.tree.root().hex()
    assert report.balances == dict(sorted(ledger.balances().items()))
    assert report.first_failing_index is None
    report.raise_for_failure()


def test_the_public_key_may_be_given_as_pem_text(
    export: list[str], signing_key: Ed25519PrivateKey
) -> None:
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert verify_export(export, pem.decode()).ok
    assert verify_export(export, pem).ok


def test_a_modified_amount_names_the_entry_that_no_longer_balances(
    export: list[str], public_key: bytes
) -> None:
    export[HEADER + 4] = export[HEADER + 4].replace(
        '"amount_minor":40000', '"amount_minor":4000', 1
    )
    report = verify_export(export, public_key)
    assert not report.ok and report.first_failing_index == 4
    assert "entry 4: its content does not match its leaf hash" in report.reason


def test_a_modified_record_is_caught_by_its_hash(export: list[str], public_key: bytes) -> None:
    export[HEADER + 6] = export[HEADER + 6].replace('"rows":5000', '"rows":50', 1)
    report = verify_export(export, public_key)
    assert (report.ok, report.first_failing_index) == (False, 6)


def test_a_modified_entry_with_its_leaf_hash_recomputed_still_breaks_the_signed_root(
    export: list[str], public_key: bytes
) -> None:
    wrapper = json.loads(export[HEADER + 3])
    wrapper["entry"]["body"]["policy"] = "cd" * 32
    leaf = json.dumps(wrapper["entry"], sort_keys=True, separators=(",", ":"))
    from contracts.merkle import leaf_hash

    digest = leaf_hash(leaf.encode()).hex()
    export[HEADER + 3] = f'{{"seq":3,"leaf_hash":"{digest}","entry":{leaf}}}\n'
    report = verify_export(export, public_key)
    assert not report.ok
    assert "does not match the signed tree head" in report.reason


def test_a_deleted_entry_is_named(export: list[str], public_key: bytes) -> None:
    del export[HEADER + 2]
    report = verify_export(export, public_key)
    assert report.first_failing_index == 2
    assert "entry 2: the line says seq 3 (an entry was deleted, inserted or reordered)" in (
        report.reason
    )


def test_reordered_entries_are_named(export: list[str], public_key: bytes) -> None:
    export[HEADER + 4], export[HEADER + 5] = export[HEADER + 5], export[HEADER + 4]
    report = verify_export(export, public_key)
    assert (report.ok, report.first_failing_index) == (False, 4)


def test_a_truncated_export_names_the_first_missing_entry(
    export: list[str], public_key: bytes
) -> None:
    report = verify_export(export[:-2], public_key)
    assert report.first_failing_index == 5
    assert "entry 5: missing; the signed tree head covers 7 entries" in report.reason
    assert report.entries_checked == 5


def test_entries_beyond_the_signed_head_are_refused(
    ledger: Ledger, export: list[str], signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    ledger.append_transaction(payment("acme", 5, time=T0, lease_id="L9"))
    longer = list(ledger.export_lines(signing_key, now=T0))
    report = verify_export([export[0], *longer[1:]], public_key)
    assert report.first_failing_index == 7
    assert "not covered by the signed tree head of size 7" in report.reason


def test_a_forged_head_signature_is_refused(export: list[str], public_key: bytes) -> None:
    header = json.loads(export[0])
    signature = bytearray.fromhex(header["tree_head"]["signature"])
    signature[0] ^= 1
    header["tree_head"]["signature"] = signature.hex()
    export[0] = json.dumps(header)
    report = verify_export(export, public_key)
    assert not report.ok and report.first_failing_index is None
    assert "the signature of the tree head (size 7) is invalid" in report.reason


def test_an_export_signed_by_another_key_is_refused(export: list[str]) -> None:
    stranger = public_key_bytes(Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
    report = verify_export(export, stranger)
    assert not report.ok
    assert "is invalid (header names key" in report.reason
    with pytest.raises(VerificationError, match="failed verification: the signature"):
        report.raise_for_failure()


def test_an_earlier_head_must_still_match_so_a_resigned_rewrite_is_caught(
    ledger: Ledger, signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    earlier = ledger.head(signing_key, T0)  # published by the exchange, kept by the auditor
    rewritten = Ledger()
    for index in range(ledger.size):
        entry = ledger.store.get(index)
        if index == 1:
            entry = entry.replace(b'"action":"request"', b'"action":"approve"')
        rewritten.store.append(entry)
    forged = list(Ledger(rewritten.store).export_lines(signing_key, now=T0))
    assert verify_export(forged, public_key).ok  # the key holder can re-sign a rewrite ...
    report = verify_export(forged, public_key, trusted_heads=[earlier])
    assert not report.ok  # ... but not make it match what an auditor saw before
    assert "the trusted head of size 7 does not match" in report.reason


def test_checkpoints_in_the_export_are_checked_against_the_rebuilt_tree(
    ledger: Ledger, signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    checkpoint = ledger.head(signing_key, T0)
    ledger.append_record("access", {"lease_id": "L1", "action": "download"}, time=T0)
    export = list(ledger.export_lines(signing_key, now=T0, checkpoints=[checkpoint]))
    assert export[1].startswith('{"checkpoint"')
    assert verify_export(export, public_key).ok
    wrong = SignedTreeHead(size=3, root=checkpoint.root, time=T0, signature=b"\0" * 64)
    export[1] = json.dumps({"checkpoint": wrong.to_json()}) + "\n"
    report = verify_export(export, public_key)
    assert "the signature of the checkpoint of size 3 is invalid" in report.reason


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "the export is empty"),
        (['{"format":"something-else"}'], "not a valid export header"),
        (["not json"], "not a valid export header"),
    ],
)
def test_an_export_without_a_valid_header_is_refused(
    lines: list[str], message: str, public_key: bytes
) -> None:
    report = verify_export(lines, public_key)
    assert not report.ok and message in report.reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda line: line.replace('"seq":2,', '"seq": 2,'), "does not follow the export layout"),
        (lambda line: line.rstrip("\n") + " \n", "does not follow the export layout"),
        (lambda line: "garbage\n", "does not follow the export layout"),
    ],
)
def test_lines_out_of_the_export_layout_are_named(
    export: list[str], public_key: bytes, change, message: str
) -> None:
    export[HEADER + 2] = change(export[HEADER + 2])
    report = verify_export(export, public_key)
    assert report.first_failing_index == 2 and message in report.reason


def _unbalanced_payment() -> bytes:
    entry = payment("acme", 100, time=T0, lease_id="L5").to_entry()
    entry["postings"][1]["amount_minor"] = 99
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


def _inexact_split(ledger: Ledger) -> bytes:
    entry = json.loads(ledger.store.get(2))
    entry["postings"][1]["amount_minor"] -= 1
    entry["postings"][2]["amount_minor"] += 1
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("bad_leaf", "message"),
    [
        (lambda _: b'{"body":{"epsilon":0.5},"type":"access"}', "float 0.5 in a ledger entry"),
        (lambda _: _unbalanced_payment(), "postings do not sum to zero: {'CNY': -1}"),
        (_inexact_split, "do not equal split(120001"),
        (lambda _: b'["not", "an", "object"]', "an entry is a JSON object with a string 'type'"),
    ],
)
def test_a_bad_entry_signed_into_the_log_by_the_operator_is_named(
    ledger: Ledger, signing_key: Ed25519PrivateKey, public_key: bytes, bad_leaf, message: str
) -> None:
    ledger.store.append(bad_leaf(ledger))  # bypasses the checks of append_transaction
    export = list(Ledger(ledger.store).export_lines(signing_key, now=T0))
    report = verify_export(export, public_key)
    assert report.first_failing_index == 7
    assert message in report.reason


@pytest.mark.parametrize("workers", [1, 2])
def test_an_export_file_verifies_on_one_or_more_processes(
    tmp_path: Path,
    signing_key: Ed25519PrivateKey,
    public_key: bytes,
    workers: int,
) -> None:
    log = Ledger()
    for lease in range(300):
        log.append_transaction(payment(f"b{lease % 7}", 100 + lease, time=T0, lease_id=f"L{lease}"))
        log.append_record("access", {"lease_id": f"L{lease}", "note": "深圳 \u2028 line"})
    lines = list(log.export_lines(signing_key, now=T0))
    assert verify_export("".join(lines).splitlines(), public_key).ok
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    report = verify_export_file(path, public_key, workers=workers)
    assert report.ok and report.entries_checked == 600
    assert report.root_hex == log.tree.root().hex()
    lines[HEADER + 451] = lines[HEADER + 451].replace('"L225"', '"L226"')
    path.write_text("".join(lines), encoding="utf-8")
    report = verify_export_file(path, public_key, workers=workers)
    assert report.first_failing_index == 451


@pytest.mark.parametrize("workers", [1, 2])
def test_a_transaction_recorded_twice_is_named_even_across_worker_ranges(
    tmp_path: Path, signing_key: Ed25519PrivateKey, public_key: bytes, workers: int
) -> None:
    log = Ledger()
    twice = payment("acme", 700, time=T0, lease_id="L-retried")
    log.append_transaction(twice)
    for lease in range(400):
        log.append_record("access", {"lease_id": f"L{lease}"})
    log.append_transaction(twice)  # a retried request applied a second time
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(log.export_lines(signing_key, now=T0)), encoding="utf-8")
    report = verify_export_file(path, public_key, workers=workers)
    assert report.first_failing_index == 401
    assert f"transaction {twice.id} was already recorded as entry 0" in report.reason


def test_blank_lines_are_tolerated_at_the_end_only(export: list[str], public_key: bytes) -> None:
    assert verify_export([*export, "\n", "\r\n"], public_key).ok
    export.insert(HEADER + 3, "\n")
    report = verify_export(export, public_key)
    assert report.first_failing_index == 3
    assert "entry 3: a blank line stands before it" in report.reason


@pytest.mark.parametrize(
    ("bad_entries", "message"),
    [
        (  # the attack as found: a split with no payment behind it, escrow at -1,000,000
            [split_from_escrow(1_000_000, SHARES, time=T0, lease_id="L-ghost")],
            "a split of 1000000 CNY out of escrow has no payment of lease L-ghost behind it",
        ),
        (  # escrow as a whole stays positive, but the money is another lease's
            [
                payment("acme", 100, time=T0, lease_id="L5"),
                payment("acme", 1_000, time=T0, lease_id="L6"),
                split_from_escrow(1_000, SHARES, time=T0, lease_id="L5"),
            ],
            "exceeds what lease L5 has left there (100 paid, 0 already paid out)",
        ),
        (  # L1 was paid and split already: a second split has nothing left behind it
            [split_from_escrow(120_001, SHARES, time=T0, lease_id="L1", tx_id="tx-again")],
            "exceeds what lease L1 has left there (120001 paid, 120001 already paid out)",
        ),
        (  # L2 was refunded in full: its money cannot be split as well
            [split_from_escrow(40_000, SHARES, time=T0, lease_id="L2")],
            "exceeds what lease L2 has left there (40000 paid, 40000 already paid out)",
        ),
        (  # a refund taken back from the parties beyond what the lease paid
            [refund_from_shares("acme", 120_002, SHARES, time=T0, lease_id="L1")],
            "a refund of 120002 CNY for lease L1 exceeds what was paid for it (120001 paid",
        ),
        (  # a second refund of a lease refunded in full already
            [refund("metro-lab", 40_000, time=T0, lease_id="L2", tx_id="tx-again")],
            "a refund of 40000 CNY for lease L2 exceeds what was paid for it (40000 paid, "
            "40000 refunded before)",
        ),
        (  # a refund of a lease that was never paid
            [refund("acme", 1, time=T0, lease_id="L-unpaid")],
            "a refund of 1 CNY for lease L-unpaid exceeds what was paid for it (0 paid",
        ),
        (  # money paid out of escrow itself, to no lease
            [payout("escrow", 5, time=T0, reference="bank-1")],
            "escrow goes negative (-5 CNY)",
        ),
        (
            [
                Transaction.create(
                    "split",
                    T0,
                    [Posting("escrow", -10), Posting("platform", 10)],
                    {"amount_minor": 10, "shares_bp": {"platform": 10_000}},
                )
            ],
            "a split must name its lease in meta.lease_id; got None",
        ),
    ],
)
def test_escrow_rules_broken_by_the_operator_name_the_first_entry(
    ledger: Ledger,
    signing_key: Ed25519PrivateKey,
    public_key: bytes,
    bad_entries: list[Transaction],
    message: str,
) -> None:
    for tx in bad_entries:
        ledger.store.append(tx.leaf())  # balanced and exact: only the history is wrong
    export = list(Ledger(ledger.store).export_lines(signing_key, now=T0))
    report = verify_export(export, public_key)
    assert not report.ok
    assert report.first_failing_index == 6 + len(bad_entries)
    assert report.reason.startswith(f"entry {6 + len(bad_entries)}: ")
    assert message in report.reason


def test_a_lease_paid_refunded_in_part_and_split_verifies(
    ledger: Ledger, signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    ledger.append_transaction(payment("acme", 1_000, time=T0, lease_id="L7"))
    ledger.append_transaction(refund("acme", 400, time=T0, lease_id="L7"))
    ledger.append_transaction(split_from_escrow(600, SHARES, time=T0, lease_id="L7"))
    ledger.append_transaction(refund_from_shares("acme", 600, SHARES, time=T0, lease_id="L7"))
    report = verify_export(list(ledger.export_lines(signing_key, now=T0)), public_key)
    assert report.ok, report.reason


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unbacked_split_is_named_when_its_lease_spans_worker_ranges(
    tmp_path: Path, signing_key: Ed25519PrivateKey, public_key: bytes, workers: int
) -> None:
    log = Ledger()
    log.append_transaction(payment("acme", 700, time=T0, lease_id="L-early"))
    for lease in range(400):
        log.append_record("access", {"lease_id": f"L{lease}"})
    log.append_transaction(split_from_escrow(700, SHARES, time=T0, lease_id="L-early"))
    again = split_from_escrow(700, SHARES, time=T0, lease_id="L-early", tx_id="tx-again")
    log.store.append(again.leaf())
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(Ledger(log.store).export_lines(signing_key, now=T0)), "utf-8")
    report = verify_export_file(path, public_key, workers=workers)
    assert report.first_failing_index == 402
    assert "exceeds what lease L-early has left there (700 paid, 700 already" in report.reason
