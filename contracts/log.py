"""The verifiable ledger: money transactions and audit records in one Merkle log.

Each entry is the canonical JSON of a dict with a ``"type"``: ``"transaction"``
for money (see :mod:`contracts.ledger`) or a record kind such as ``"access"`` or
``"desensitization_receipt"``. Entries are kept by a :class:`LedgerStore`; the
Merkle tree over them lives in memory and is rebuilt from the store on start.
Balances are derived from the postings, never stored.

A store inside a database transaction (the exchange's) is passed per append as
``via``: the entry is written there and joins the caller's commit or rollback,
and the tree takes it in from the ledger's own store on :meth:`Ledger.refresh`,
so a head never covers an entry that was rolled back.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.canonical import canonical_json
from contracts.errors import InvalidEntry, ProofError
from contracts.heads import SignedTreeHead, now_utc, public_key_bytes, sign_tree_head
from contracts.ledger import DEFAULT_CURRENCY, TRANSACTION_TYPE, Transaction, postings_from_entry
from contracts.merkle import MerkleTree
from contracts.store import InMemoryStore, LedgerStore
from contracts.utc import format_utc

EXPORT_FORMAT = "datalease-ledger-export"
EXPORT_VERSION = 1
RESERVED_TYPES = frozenset({TRANSACTION_TYPE})
_RECORD_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# Canonical JSON never puts a space after ':', so every transaction leaf holds this.
_TRANSACTION_MARK = b'"type":"transaction"'


def entry_line_prefix(seq: int, leaf_hash_hex: str) -> str:
    """An export entry line is this prefix, the exact leaf text, then ``}``."""
    return f'{{"seq":{seq},"leaf_hash":"{leaf_hash_hex}","entry":'


class Ledger:
    """An append-only, tamper-evident log over a :class:`LedgerStore` (thread-safe)."""

    def __init__(self, store: LedgerStore | None = None) -> None:
        self._store: LedgerStore = store if store is not None else InMemoryStore()
        self._tree = MerkleTree.from_leaves(self._store.entries())
        self._lock = threading.RLock()
        self._balances: dict[str, dict[str, int]] | None = None  # derived lazily

    @property
    def store(self) -> LedgerStore:
        return self._store

    @property
    def tree(self) -> MerkleTree:
        """The in-memory Merkle tree (read it; append through the ledger)."""
        return self._tree

    @property
    def size(self) -> int:
        return self._tree.size

    def append_transaction(self, tx: Transaction, *, via: LedgerStore | None = None) -> int:
        """Append a balanced transaction and return its index (``via``: see the module)."""
        if not isinstance(tx, Transaction):
            raise InvalidEntry(f"expected a Transaction, got {type(tx).__name__}")
        entry = tx.to_entry()
        return self._append(canonical_json(entry), entry, via)

    def append_record(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        time: datetime | None = None,
        via: LedgerStore | None = None,
    ) -> int:
        """Append a non-money record (access event, desensitization receipt, ...)."""
        if not isinstance(kind, str) or not _RECORD_KIND.fullmatch(kind):
            raise InvalidEntry(
                f"record kind must be lower-case letters, digits, '_', '.', '-'; got {kind!r}"
            )
        if kind in RESERVED_TYPES:
            raise InvalidEntry(f"record kind {kind!r} is reserved; use append_transaction")
        if not isinstance(body, Mapping):
            raise InvalidEntry(f"record body must be a mapping; got {type(body).__name__}")
        entry: dict[str, Any] = {"type": kind, "body": dict(body)}
        if time is not None:
            entry["time"] = format_utc(time, f"time of {kind} record")
        return self._append(canonical_json(entry), entry, via)

    def _append(self, leaf: bytes, entry: dict[str, Any], via: LedgerStore | None) -> int:
        if via is not None:
            return via.append(leaf)
        with self._lock:
            index = self._store.append(leaf)
            if index < self._tree.size:
                raise InvalidEntry(
                    f"the store returned index {index} but the log already has "
                    f"{self._tree.size} entries; the store is not append-only"
                )
            if index != self._tree.size:
                self._catch_up(index)
            self._tree.append(leaf)
            if self._balances is not None:
                _add_postings(self._balances, entry)
            return index

    def refresh(self) -> int:
        """Take in entries another writer appended to the store; return the new size."""
        with self._lock:
            self._catch_up(None)
            return self._tree.size

    def _catch_up(self, stop: int | None) -> None:
        for leaf in self._store.entries(self._tree.size, stop):
            self._tree.append(leaf)
            if self._balances is not None and _TRANSACTION_MARK in leaf:
                _add_postings(self._balances, json.loads(leaf))

    def entry(self, index: int) -> dict[str, Any]:
        """The decoded entry at ``index``."""
        return json.loads(self._store.get(index))

    def balances(self, currency: str = DEFAULT_CURRENCY) -> dict[str, int]:
        """Every account's balance in ``currency``, summed from the postings."""
        with self._lock:
            if self._balances is None:
                derived: dict[str, dict[str, int]] = {}
                for leaf in self._store.entries(0, self._tree.size):
                    if _TRANSACTION_MARK in leaf:
                        _add_postings(derived, json.loads(leaf))
                self._balances = derived
            return dict(self._balances.get(currency, {}))

    def head(
        self, signer: Ed25519PrivateKey, now: datetime | None = None, *, size: int | None = None
    ) -> SignedTreeHead:
        """Sign the root of the first ``size`` entries (default: the current tree)."""
        with self._lock:
            size = self._tree.size if size is None else size
            root = self._tree.root(size)
        return sign_tree_head(signer, size, root, now or now_utc())

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of entry ``index`` in the tree of ``size`` entries."""
        return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the log at ``old_size`` is a prefix of the log at ``new_size``."""
        return self._tree.consistency_proof(old_size, new_size)

    def export_lines(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        now: datetime | None = None,
        checkpoints: Iterable[SignedTreeHead] = (),
    ) -> Iterator[str]:
        """JSON lines (each ending in a newline) for offline audit with ``verify_export``.

        A header carries a fresh signed head over the whole log; then one line per
        earlier signed head passed as ``checkpoints``; then one line per entry:
        ``{"seq":i,"leaf_hash":"<hex>","entry":<the exact leaf JSON>}``.
        """
        head = self.head(signing_key, now)
        checkpoints = sorted(checkpoints, key=lambda h: h.size)
        for checkpoint in checkpoints:
            if checkpoint.size > head.size:
                raise ProofError(
                    f"checkpoint of size {checkpoint.size} is beyond the log size {head.size}"
                )
        header = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "hash": "sha256",
            "public_key": public_key_bytes(signing_key).hex(),
            "tree_head": head.to_json(),
        }
        yield json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n"
        for checkpoint in checkpoints:
            yield json.dumps({"checkpoint": checkpoint.to_json()}, sort_keys=True) + "\n"
        leaf_hash_at = self._tree.leaf_hash_at
        for seq, leaf in enumerate(self._store.entries(0, head.size)):
            text = leaf.decode("utf-8")
            yield f"{entry_line_prefix(seq, leaf_hash_at(seq).hex())}{text}}}\n"


def _add_postings(balances: dict[str, dict[str, int]], entry: Mapping[str, Any]) -> None:
    if entry.get("type") != TRANSACTION_TYPE:
        return
    for account, amount, currency in postings_from_entry(entry.get("postings")):
        accounts = balances.setdefault(currency, {})
        accounts[account] = accounts.get(account, 0) + amount
