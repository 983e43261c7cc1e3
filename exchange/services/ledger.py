"""The verifiable log, persisted: ``contracts.Ledger`` over the ``ledger_entries`` table.

Hashing, heads, proofs, balances and the export are the contracts ledger's; this
module only stores its leaves. Rows are only ever inserted. Appends join the
caller's transaction and serialise across worker processes (an advisory lock on
PostgreSQL, the write lock on SQLite), so indexes are dense and every process
rebuilds the same tree from the table. The ledger's own store reads committed
rows only, so a rolled-back append never reaches a head.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from contracts import Ledger, SignedTreeHead, Transaction
from exchange.db.models import LedgerEntry
from exchange.errors import Invalid, NotFound
from exchange.services.signing import SigningKey

APPEND_LOCK_ID = 7_240_319
_BATCH = 5000


class SessionStore:
    """The table as one session sees it: appends are written there and commit with it."""

    def __init__(self, session: Session, *, subject: str | None = None) -> None:
        self._session = session
        self._subject = subject  # the lease or dataset an entry is about, for lookups

    def append(self, entry: bytes) -> int:
        session = self._session
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": APPEND_LOCK_ID})
        last = session.scalar(select(func.max(LedgerEntry.index)))
        index = 0 if last is None else last + 1
        entry_type = str(json.loads(entry)["type"])
        session.add(
            LedgerEntry(index=index, entry_type=entry_type, subject=self._subject, body=entry)
        )
        session.flush()
        return index

    def get(self, index: int) -> bytes:
        body = self._session.scalar(select(LedgerEntry.body).where(LedgerEntry.index == index))
        if body is None:
            raise IndexError(f"no ledger entry {index}")
        return bytes(body)

    def size(self) -> int:
        last = self._session.scalar(select(func.max(LedgerEntry.index)))
        return 0 if last is None else last + 1

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        query = select(LedgerEntry.index, LedgerEntry.body).where(LedgerEntry.index >= start)
        if stop is not None:
            query = query.where(LedgerEntry.index < stop)
        rows = self._session.execute(
            query.order_by(LedgerEntry.index).execution_options(yield_per=_BATCH)
        )
        return _dense(rows, start)


class TableStore:
    """The committed table, read in a session of its own per call; it never appends."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, entry: bytes) -> int:
        # An entry is part of the change it records: it commits or rolls back with it.
        raise RuntimeError("ledger entries are appended in the caller's session (SessionStore)")

    def get(self, index: int) -> bytes:
        with self._sessions() as session:
            return SessionStore(session).get(index)

    def size(self) -> int:
        with self._sessions() as session:
            return SessionStore(session).size()

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        with self._sessions() as session:
            yield from SessionStore(session).entries(start, stop)


def _dense(rows: Iterable[Any], start: int) -> Iterator[bytes]:
    expected = start
    for index, body in rows:
        if index != expected:  # a row not yet committed before it: stop at the dense prefix
            return
        yield bytes(body)
        expected += 1


class LogService:
    def __init__(self, sessions: sessionmaker[Session], signer: SigningKey) -> None:
        self._sessions = sessions
        self._signer = signer
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def ledger(self) -> Ledger:
        """The contracts ledger over the table, brought up to date with committed rows."""
        ledger = self._writer()
        ledger.refresh()
        return ledger

    # -- writing (inside the caller's transaction) --------------------------------------------

    def record(self, session: Session, kind: str, *, actor: str, **fields: Any) -> int:
        """Append an access or lifecycle record: who did what, when; ids and hashes only."""
        subject = fields.get("lease") or fields.get("dataset")
        return self._writer().append_record(
            kind,
            {"actor": actor, **fields},
            time=datetime.now(UTC),
            via=SessionStore(session, subject=subject),
        )

    def post(self, session: Session, tx: Transaction) -> int:
        subject = tx.meta.get("lease_id")
        return self._writer().append_transaction(tx, via=SessionStore(session, subject=subject))

    def _writer(self) -> Ledger:
        # Built on first use, so commands that never read the log do not load it; appends
        # go through the caller's session and need no synced tree.
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(TableStore(self._sessions))
            return self._ledger

    # -- reading ------------------------------------------------------------------------------

    def size(self) -> int:
        return self.ledger().size

    def head(self, size: int | None = None) -> SignedTreeHead:
        ledger = self.ledger()
        return self._sign(ledger, self._resolve(size, ledger.size))

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        ledger = self.ledger()
        size = self._resolve(size, ledger.size)
        if not 0 <= index < size:
            raise NotFound(f"entry {index} is not in a tree of size {size}")
        proof = ledger.inclusion_proof(index, size)
        return {
            "index": index,
            "size": size,
            "leaf_hash": ledger.tree.leaf_hash_at(index).hex(),
            "proof": [h.hex() for h in proof],
            "head": self._sign(ledger, size).to_json(),
        }

    def consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        ledger = self.ledger()
        new_size = self._resolve(new_size, ledger.size)
        self._resolve(old_size, ledger.size)
        if not 0 < old_size <= new_size:
            raise Invalid(f"old size must be between 1 and {new_size}")
        proof = ledger.consistency_proof(old_size, new_size)
        return {
            "old_size": old_size,
            "new_size": new_size,
            "old_root": ledger.tree.root(old_size).hex(),
            "new_root": ledger.tree.root(new_size).hex(),
            "proof": [h.hex() for h in proof],
            "head": self._sign(ledger, new_size).to_json(),
        }

    def _sign(self, ledger: Ledger, size: int) -> SignedTreeHead:
        # Proofs and their head come from one synced tree, not two database reads.
        return ledger.head(self._signer.private, datetime.now(UTC), size=size)

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

    def balances(self, currency: str) -> dict[str, int]:
        """Every account's balance in ``currency``, derived from the committed postings."""
        return dict(sorted(self.ledger().balances(currency).items()))

    def export_lines(self) -> Iterator[str]:
        """The offline-audit export (see ``contracts.verify_export``) of every committed entry;
        leaf hashes come from the tree, which already holds them."""
        return self.ledger().export_lines(self._signer.private)

    @staticmethod
    def _resolve(size: int | None, available: int) -> int:
        """``size`` checked against the tree, or the whole tree when not given."""
        if size is None:
            return available
        if not 0 <= size <= available:
            # Not yet, rather than wrong: a tree of that size may exist later.
            raise NotFound(f"the log holds {available} entries: no tree of size {size}")
        return size
