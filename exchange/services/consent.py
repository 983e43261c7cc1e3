"""Consent withdrawal: a person (or their guardian) withdraws consent to a dataset's use of
their data; the dataset's next release leaves their rows out, and leases of an earlier
release carry a notice telling the lessee so.

A withdrawal raises the dataset's consent version, and a release is made per policy version
*and* consent version, so the next lease gets a release without those rows while the
releases already leased stay as they were (they are what their receipts prove)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from desensitize import Report
from desensitize.stream import BatchSource
from exchange.context import Exchange
from exchange.db.models import Account, ConsentWithdrawal, Dataset, Lease, Release
from exchange.errors import Conflict, MissingRow, NotFound
from exchange.services import subjects
from exchange.services.ids import new_id


@dataclass(frozen=True)
class Withdrawing:
    """Whose consent is withdrawn, from which datasets: worked out by reading only, so the
    write that follows is short."""

    person: subjects.Person
    dataset_ids: list[str]


def plan(
    session: Session,
    exchange: Exchange,
    account: Account,
    *,
    ward: str | None,
    dataset_ids: list[str] | None,
) -> Withdrawing:
    """The datasets named, each checked to hold the person, or every dataset that does."""
    person = subjects.person(session, account, ward)
    if not dataset_ids:
        found = [d.id for d in with_subjects(session) if holds(exchange, d, person.hash)]
        return Withdrawing(person, found)
    for dataset_id in dict.fromkeys(dataset_ids):
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise NotFound(f"dataset {dataset_id} does not exist")
        if not holds(exchange, dataset, person.hash):
            raise Conflict(
                f"dataset {dataset_id} holds no rows of this person", code="not_in_dataset"
            )
    return Withdrawing(person, list(dict.fromkeys(dataset_ids)))


def withdraw(
    session: Session,
    exchange: Exchange,
    account: Account,
    withdrawing: Withdrawing,
    reason: str,
) -> list[ConsentWithdrawal]:
    """Withdraw the person's consent to each dataset planned; one already withdrawn from is
    left as it is."""
    person = withdrawing.person
    done = {
        w.dataset_id: w
        for w in session.scalars(
            select(ConsentWithdrawal).where(ConsentWithdrawal.subject_hash == person.hash)
        )
    }
    out = []
    for dataset_id in withdrawing.dataset_ids:
        if dataset_id in done:
            out.append(done[dataset_id])
            continue
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise MissingRow("datasets", dataset_id)
        out.append(_withdraw_one(session, exchange, account, dataset, person, reason))
    return out


def _withdraw_one(
    session: Session,
    exchange: Exchange,
    account: Account,
    dataset: Dataset,
    person: subjects.Person,
    reason: str,
) -> ConsentWithdrawal:
    # One UPDATE, so two withdrawals at once get two versions, never the same one.
    bumped = session.execute(
        update(Dataset)
        .where(Dataset.id == dataset.id)
        .values(consent_version=Dataset.consent_version + 1)
        .returning(Dataset.consent_version)
    ).scalar_one_or_none()
    if bumped is None:
        raise MissingRow("datasets", dataset.id)
    withdrawal = ConsentWithdrawal(
        id=new_id("wdr"),
        dataset_id=dataset.id,
        subject_hash=person.hash,
        account_id=account.id,
        consent_version=bumped,
        reason=reason.strip()[:2000],
    )
    session.add(withdrawal)
    session.flush()
    session.refresh(dataset)
    exchange.log.record(
        session,
        "consent_withdrawn",
        actor=account.id,
        dataset=dataset.id,
        withdrawal=withdrawal.id,
        consent_version=bumped,
        on_behalf_of="self" if person.relation == "self" else "ward",
    )
    return withdrawal


def with_subjects(session: Session) -> list[Dataset]:
    return list(
        session.scalars(
            select(Dataset).where(Dataset.subject_column.is_not(None)).order_by(Dataset.created_at)
        )
    )


def holds(exchange: Exchange, dataset: Dataset, subject_hash: str) -> bool:
    if not dataset.subject_column:
        return False
    return bool(len(subjects.rows_of(exchange, dataset, [subject_hash])))


def withdrawn_hashes(session: Session, dataset: Dataset) -> list[str]:
    return list(
        session.scalars(
            select(ConsentWithdrawal.subject_hash).where(
                ConsentWithdrawal.dataset_id == dataset.id,
                ConsentWithdrawal.consent_version <= dataset.consent_version,
            )
        )
    )


def excluded_rows(session: Session, exchange: Exchange, dataset: Dataset) -> np.ndarray:
    """The raw row positions a release of the dataset leaves out, ascending."""
    hashes = withdrawn_hashes(session, dataset)
    if not hashes or not dataset.subject_column:
        return np.zeros(0, dtype=np.int64)
    return subjects.rows_of(exchange, dataset, hashes)


# Releases without the withdrawn rows


class WithoutRows:
    """A batch source without the rows at ``excluded`` (ascending positions)."""

    def __init__(self, source: BatchSource, excluded: np.ndarray) -> None:
        self.source = source
        self.excluded = excluded

    @property
    def schema(self) -> pa.Schema:
        return self.source.schema

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        offset = 0
        for batch in self.source.batches(columns):
            n = batch.num_rows
            lo, hi = np.searchsorted(self.excluded, [offset, offset + n])
            if hi > lo:
                keep = np.ones(n, dtype=bool)
                keep[self.excluded[lo:hi] - offset] = False
                batch = batch.filter(pa.array(keep))
            offset += n
            yield batch


def release_without(
    exchange: Exchange,
    source: BatchSource,
    excluded: np.ndarray,
    total_rows: int,
    sink: BinaryIO,
    row_column: str,
    make: Callable[[BatchSource, BinaryIO], Report],
) -> Report:
    """``make`` the release from ``source`` without the excluded rows into ``sink``, each
    row keeping the position it has in the whole table, as in every other release of the
    dataset, so releases are still joined (and leaks traced) by the rows' true identity.

    The release is made first into a sealed draft, whose row numbers count the remaining
    rows only, then copied to ``sink`` with each number mapped back."""
    kept = np.delete(np.arange(total_rows, dtype=np.int64), excluded)
    draft = f"release-draft-{new_id('tmp')}"
    key = exchange.store.new_data_key()
    context = f"release-draft:{draft}".encode()
    try:
        with exchange.store.writer(draft, key, context=context) as writer:
            report = make(WithoutRows(source, excluded), cast(BinaryIO, writer))
        with exchange.store.open_plaintext(draft, key, context=context) as fh:
            parquet = pq.ParquetFile(fh)
            out = pq.ParquetWriter(sink, parquet.schema_arrow)
            for batch in parquet.iter_batches(batch_size=100_000):
                position = batch.schema.get_field_index(row_column)
                rows = kept[batch.column(position).to_numpy()]
                out.write_batch(batch.set_column(position, row_column, pa.array(rows)))
            out.close()
    finally:
        exchange.store.delete(draft)
    return report


# Notices to lessees


def lease_notices(session: Session, lease: Lease) -> list[dict[str, Any]]:
    """What the lessee must know about the lease's data since its release was made."""
    if lease.release_id is None:
        return []
    release = session.get(Release, lease.release_id)
    if release is None:
        raise MissingRow("releases", lease.release_id)
    count, first, last = session.execute(
        select(
            func.count(ConsentWithdrawal.id),
            func.min(ConsentWithdrawal.created_at),
            func.max(ConsentWithdrawal.created_at),
        ).where(
            ConsentWithdrawal.dataset_id == lease.dataset_id,
            ConsentWithdrawal.consent_version > release.consent_version,
        )
    ).one()
    if not count:
        return []
    return [
        {
            "kind": "consent_withdrawn",
            "withdrawals": int(count),
            "since": first.isoformat() if first else None,
            "latest": last.isoformat() if last else None,
            "text": (
                f"{count} person(s) in release {release.id} have withdrawn their consent "
                "since it was made; the dataset's next release leaves their rows out. "
                "Stop processing their data: lease the new release and delete this "
                "extract's copies."
            ),
        }
    ]


def notice_header(notices: list[dict[str, Any]]) -> str | None:
    """The notices as one ASCII header value for extract downloads."""
    if not notices:
        return None
    return "; ".join(
        f"{n['kind']} withdrawals={n['withdrawals']} since={n['since']}" for n in notices
    )
