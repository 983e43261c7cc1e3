"""Offline audit of a ledger export: hashes, tree heads, double entry, splits.

An auditor needs only the export (JSON lines from :meth:`Ledger.export_lines`)
and the exchange's Ed25519 public key. Every leaf is hashed again, the Merkle
root is rebuilt and compared with the signed tree head and with every checkpoint
or trusted head, each transaction must balance, each split must equal
``split(amount, shares_bp)`` and each dividend its pool's amounts split among the persons
of its release (:mod:`contracts.dividends`), and in log order the escrow rules of
:mod:`contracts.escrow` must hold: escrow never negative, every split backed by
a payment of its lease, no refund beyond what its lease paid. The report names
the first entry that fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts.dividends import check_sources
from contracts.errors import VerificationError
from contracts.escrow import check_in_log_order
from contracts.export_scan import ScanResult, scan_file, scan_lines
from contracts.heads import PublicKeyLike, SignedTreeHead, load_public_key, public_key_bytes
from contracts.ledger import DEFAULT_CURRENCY
from contracts.log import EXPORT_FORMAT, EXPORT_VERSION
from contracts.merkle import MerkleTree


@dataclass(frozen=True)
class VerificationReport:
    """What an audit found; ``ok`` only if every check passed."""

    ok: bool
    entries_checked: int
    first_failing_index: int | None
    reason: str | None
    root_hex: str
    tree_size: int
    balances: dict[str, int] = field(default_factory=dict)
    balances_by_currency: dict[str, dict[str, int]] = field(default_factory=dict)

    def raise_for_failure(self) -> None:
        """Raise VerificationError with the reason when the audit failed."""
        if not self.ok:
            raise VerificationError(
                f"ledger export failed verification: {self.reason}",
                first_failing_index=self.first_failing_index,
            )


class _Findings:
    """Keeps the first failure of each class; entry failures are kept in index order."""

    def __init__(self) -> None:
        self.head: str | None = None
        self.entry: tuple[int, str] | None = None
        self.tree: tuple[int | None, str] | None = None

    def bad_head(self, reason: str) -> None:
        self.head = self.head or reason

    def bad_entry(self, index: int, reason: str) -> None:
        if self.entry is None or index < self.entry[0]:
            self.entry = (index, reason)

    def bad_tree(self, index: int | None, reason: str) -> None:
        self.tree = self.tree or (index, reason)

    def first(self) -> tuple[int | None, str | None]:
        if self.head:
            return None, self.head
        return self.entry or self.tree or (None, None)


def verify_export(
    lines: Iterable[str],
    public_key: PublicKeyLike,
    *,
    trusted_heads: Iterable[SignedTreeHead] = (),
) -> VerificationReport:
    """Verify an export against the exchange's public key.

    ``lines`` may be an open text file or any iterable of the export's lines.
    ``trusted_heads`` are signed heads the auditor kept from earlier audits: each
    must still match, which catches a log rewritten even by the key holder.
    """
    stream = iter(lines)

    def scan(first_entry: str) -> ScanResult:
        return scan_lines(line.encode("utf-8") for line in _prepend(first_entry, stream))

    return _verify(stream, public_key, trusted_heads, scan)


def verify_export_file(
    path: str | os.PathLike[str],
    public_key: PublicKeyLike,
    *,
    trusted_heads: Iterable[SignedTreeHead] = (),
    workers: int = 1,
) -> VerificationReport:
    """:func:`verify_export` for an export file, read in blocks; ``workers`` > 1 processes
    share the entries (each reads its own byte range), which pays off from about 100,000
    entries on an idle machine."""
    with open(path, "rb") as file:
        stream = (raw.decode("utf-8") for raw in file)

        def scan(first_entry: str) -> ScanResult:
            offset = file.tell() - len(first_entry.encode("utf-8"))
            return scan_file(path, offset, workers)

        return _verify(stream, public_key, trusted_heads, scan)


def _verify(
    stream: Iterator[str],
    public_key: PublicKeyLike,
    trusted_heads: Iterable[SignedTreeHead],
    scan: Callable[[str], ScanResult],
) -> VerificationReport:
    key = load_public_key(public_key)
    findings = _Findings()
    head, checkpoints, first_entry = _read_preamble(stream, key, findings)
    if head is None:
        return _report(findings, 0, b"", 0, {})
    scanned = scan(first_entry) if first_entry is not None else ScanResult()
    if scanned.failure:
        findings.bad_entry(*scanned.failure)
    _check_escrow(scanned, findings)
    tree = scanned.merkle_tree()
    _check_dividends(scanned, tree, findings)
    count = scanned.count
    _check_size_and_roots(tree, head, count, checkpoints, trusted_heads, key, findings)
    root = tree.root(min(head.size, count))
    return _report(findings, count, root, head.size, scanned.balances)


def _check_escrow(scanned: ScanResult, findings: _Findings) -> None:
    """The escrow rules in log order, up to the first entry that already failed."""
    stop = scanned.failure[0] if scanned.failure else None
    found = check_in_log_order(scanned.money, scanned.flows, stop)
    if found:
        index, problem = found
        findings.bad_entry(index, f"entry {index}: {problem}")


def _check_dividends(scanned: ScanResult, tree: MerkleTree, findings: _Findings) -> None:
    """Each dividend's restated sources are earlier entries of the log, paid out once."""
    found = check_sources(scanned.dividends, scanned.tx_ids, tree)
    if found:
        index, problem = found
        findings.bad_entry(index, f"entry {index}: {problem}")


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _read_preamble(
    stream: Iterator[str], key: Any, findings: _Findings
) -> tuple[SignedTreeHead | None, list[SignedTreeHead], str | None]:
    try:
        header = json.loads(next(stream).rstrip("\r\n"))
        if header.get("format") != EXPORT_FORMAT or header.get("version") != EXPORT_VERSION:
            raise VerificationError(f"not a {EXPORT_FORMAT} version {EXPORT_VERSION} header")
        head = SignedTreeHead.from_json(header.get("tree_head"))
    except StopIteration:
        findings.bad_head("the export is empty: no header line")
        return None, [], None
    except (ValueError, AttributeError, VerificationError) as exc:
        findings.bad_head(f"the first line is not a valid export header: {exc}")
        return None, [], None
    if not head.verify(key):
        signer = header.get("public_key", "?")
        hint = "" if signer == public_key_bytes(key).hex() else f" (header names key {signer})"
        findings.bad_head(f"the signature of the tree head (size {head.size}) is invalid{hint}")
    checkpoints: list[SignedTreeHead] = []
    for raw in stream:
        line = raw.rstrip("\r\n")
        if not line.startswith('{"checkpoint"'):
            return head, checkpoints, raw
        try:
            checkpoints.append(SignedTreeHead.from_json(json.loads(line)["checkpoint"]))
        except (ValueError, KeyError, VerificationError) as exc:
            findings.bad_head(f"checkpoint line {len(checkpoints)} is malformed: {exc}")
    return head, checkpoints, None


def _check_size_and_roots(
    tree: MerkleTree,
    head: SignedTreeHead,
    count: int,
    checkpoints: list[SignedTreeHead],
    trusted_heads: Iterable[SignedTreeHead],
    key: Any,
    findings: _Findings,
) -> None:
    """Entry count against the signed size, then every root against the rebuilt tree."""
    if count < head.size:
        findings.bad_entry(
            count,
            f"entry {count}: missing; the signed tree head covers {head.size} entries "
            f"but the export has {count} (truncated)",
        )
    elif count > head.size:
        findings.bad_entry(
            head.size,
            f"entry {head.size}: not covered by the signed tree head of size {head.size} "
            f"(the export has {count} entries)",
        )
    for label, other in [("checkpoint", c) for c in checkpoints] + [
        ("trusted head", t) for t in trusted_heads
    ]:
        if not other.verify(key):
            findings.bad_head(f"the signature of the {label} of size {other.size} is invalid")
        elif other.size > min(count, head.size):
            findings.bad_head(
                f"the {label} of size {other.size} is beyond the export's {count} entries"
            )
        elif tree.root(other.size) != other.root:
            findings.bad_tree(
                None,
                f"the {label} of size {other.size} does not match the root of the first "
                f"{other.size} entries: an entry before index {other.size} was changed",
            )
    if count >= head.size and tree.root(head.size) != head.root:
        findings.bad_tree(
            None,
            f"the root of the {head.size} entries does not match the signed tree head "
            "(entries and leaf hashes were rewritten consistently)",
        )


def _report(
    findings: _Findings,
    count: int,
    root: bytes,
    size: int,
    balances: dict[str, dict[str, int]],
) -> VerificationReport:
    index, reason = findings.first()
    by_currency = {
        currency: dict(sorted(accounts.items())) for currency, accounts in balances.items()
    }
    for currency, accounts in by_currency.items():
        if sum(accounts.values()) and reason is None:
            index, reason = None, f"balances in {currency} do not sum to zero"
    return VerificationReport(
        ok=reason is None,
        entries_checked=count,
        first_failing_index=index,
        reason=reason,
        root_hex=root.hex(),
        tree_size=size,
        balances=by_currency.get(DEFAULT_CURRENCY, {}),
        balances_by_currency=by_currency,
    )
