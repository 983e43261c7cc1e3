"""The verifiable log, persisted: money transactions and access records as Merkle leaves.

Rows of ``ledger_entries`` are only ever inserted. Appends serialise across worker
processes (an advisory lock on PostgreSQL, the write lock on SQLite), so indexes
are dense and every process rebuilds the same tree from the table. The in-memory
tree only ever learns committed rows, so a rolled-back append never reaches a head.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from contracts import (
    InMemoryStore,
    Ledger,
    MerkleTree,
    SignedTreeHead,
    Transaction,
    canonical_json,
    sign_tree_head,
)
from contracts.utc import format_utc
from exchange.db.models import LedgerEntry
from exchange.errors import Invalid, NotFound
from exchange.services.signing import SigningKey

APPEND_LOCK_ID = 7_240_319


class LogService:
    def __init__(self, sessions: sessionmaker[Session], signer: SigningKey) -> None:
        self._sessions = sessions
        self._signer = signer
        self._tree = MerkleTree()
        self._lock = threading.Lock()

    # -- writing (inside the caller's transaction) --------------------------------------------

    def append(self, session: Session, entry: dict[str, Any], *, subject: str | None = None) -> int:
        leaf = canonical_json(entry)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": APPEND_LOCK_ID})
        last = session.scalar(select(func.max(LedgerEntry.index)))
        index = 0 if last is None else last + 1
        session.add(
            LedgerEntry(index=index, entry_type=str(entry["type"]), subject=subject, body=leaf)
        )
        session.flush()
        return index

    def record(self, session: Session, kind: str, *, actor: str, **fields: Any) -> int:
        """Append an access or lifecycle record: who did what, when; ids and hashes only."""
        entry = {
            "type": kind,
            "time": format_utc(datetime.now(UTC)),
            "body": {"actor": actor, **fields},
        }
        subject = fields.get("lease") or fields.get("dataset")
        return self.append(session, entry, subject=subject)

    def post(self, session: Session, tx: Transaction) -> int:
        return self.append(session, tx.to_entry(), subject=tx.meta.get("lease_id"))

    # -- reading ------------------------------------------------------------------------------

    def tree(self) -> MerkleTree:
        """The tree over every committed entry, brought up to date from the database."""
        with self._lock, self._sessions() as session:
            rows = session.execute(
                select(LedgerEntry.index, LedgerEntry.body)
                .where(LedgerEntry.index >= self._tree.size)
                .order_by(LedgerEntry.index)
            )
            for index, body in rows:
                if index != self._tree.size:  # an uncommitted gap: stop at the dense prefix
                    break
                self._tree.append(body)
            return self._tree

    def size(self) -> int:
        return self.tree().size

    def head(self, size: int | None = None) -> SignedTreeHead:
        tree = self.tree()
        return self._sign(tree, self._resolve(size, tree.size))

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        tree = self.tree()
        size = self._resolve(size, tree.size)
        if not 0 <= index < size:
            raise NotFound(f"entry {index} is not in a tree of size {size}")
        proof = tree.inclusion_proof(index, size)
        return {
            "index": index,
            "size": size,
            "leaf_hash": tree.leaf_hash_at(index).hex(),
            "proof": [h.hex() for h in proof],
            "head": self._sign(tree, size).to_json(),
        }

    def consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        tree = self.tree()
        new_size = self._resolve(new_size, tree.size)
        if not 0 < old_size <= new_size:
            raise Invalid(f"old size must be between 1 and {new_size}")
        proof = tree.consistency_proof(old_size, new_size)
        return {
            "old_size": old_size,
            "new_size": new_size,
            "old_root": tree.root(old_size).hex(),
            "new_root": tree.root(new_size).hex(),
            "proof": [h.hex() for h in proof],
            "head": self._sign(tree, new_size).to_json(),
        }

    def _sign(self, tree: MerkleTree, size: int) -> SignedTreeHead:
        # Proofs and their head come from one synced tree, not two database reads.
        return sign_tree_head(self._signer.private, size, tree.root(size), datetime.now(UTC))

    def entries(
        self,
        session: Session,
        start: int = 0,
        stop: int | None = None,
        *,
        entry_type: str | None = None,
        subject: str | None = None,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        query = select(LedgerEntry.index, LedgerEntry.body).where(LedgerEntry.index >= start)
        if stop is not None:
            query = query.where(LedgerEntry.index < stop)
        if entry_type is not None:
            query = query.where(LedgerEntry.entry_type == entry_type)
        if subject is not None:
            query = query.where(LedgerEntry.subject == subject)
        for index, body in session.execute(query.order_by(LedgerEntry.index)):
            yield index, json.loads(body)

    def leaves(self, session: Session, stop: int) -> Iterator[bytes]:
        rows = session.execute(
            select(LedgerEntry.body)
            .where(LedgerEntry.index < stop)
            .order_by(LedgerEntry.index)
            .execution_options(yield_per=5000)
        )
        for (body,) in rows:
            yield body

    def balances(self, session: Session) -> dict[str, int]:
        """Every account's balance, derived from the postings (never stored)."""
        totals: dict[str, int] = {}
        for _, entry in self.entries(session, entry_type="transaction"):
            for posting in entry["postings"]:
                totals[posting["account"]] = (
                    totals.get(posting["account"], 0) + posting["amount_minor"]
                )
        return dict(sorted(totals.items()))

    def export_lines(self, session: Session) -> Iterator[str]:
        """The offline-audit export (see ``contracts.verify_export``) of every committed entry."""
        size = self.size()
        ledger = Ledger(_ReadOnlyStore(list(self.leaves(session, size))))
        yield from ledger.export_lines(self._signer.private)

    @staticmethod
    def _resolve(size: int | None, available: int) -> int:
        """``size`` checked against the tree, or the whole tree when not given."""
        if size is None:
            return available
        if not 0 <= size <= available:
            raise Invalid(f"size must be between 0 and {available}")
        return size


class _ReadOnlyStore(InMemoryStore):
    """The committed leaves, handed to ``contracts.Ledger`` for an export."""

    def append(self, entry: bytes) -> int:  # pragma: no cover - exports never append
        raise RuntimeError("exports are read-only")
