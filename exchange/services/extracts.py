"""Extracts: the lease's desensitized copy, made once with the lease's own keys by a job
(exchange.jobs) outside any request, stored encrypted, receipted in the verifiable log,
then streamed while the lease is active."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import update
from sqlalchemy.orm import Session

from desensitize import Keyring, Policy
from desensitize.rules.base import Context
from desensitize.watermark import dither, shuffle_order
from exchange import jobs
from exchange.context import Exchange
from exchange.db.dml import rowcount
from exchange.db.models import MICRO, Account, Dataset, Job, Lease, Offer, Release
from exchange.errors import Forbidden, MissingRow, NotFound
from exchange.extract_writer import neutralise_formulas, neutralise_names
from exchange.jobs import JobRun
from exchange.jobs.worker import Stopped
from exchange.services import releases
from exchange.services.datasets import require_policy
from exchange.services.leases import lease_keys, now_utc
from exchange.services.lifecycle import require_active

CSV_BATCH_ROWS = 50_000
JOB_KIND = "extract"


def _extract_context(lease_id: str) -> bytes:
    return f"extract:{lease_id}".encode()


def project(exchange: Exchange, release: Release, lease: Lease) -> pa.Table:
    """The lease's extract: the release's rows on the leased columns, pseudonyms re-keyed
    with the lease's keys, noisy numbers dithered, rows in the lease's keyed order."""
    policy = Policy.from_dict(release.policy)
    keys = lease_keys(exchange, lease)
    table = releases.read(exchange, release, lease.columns)
    rows = table.column(releases.ROW).to_numpy()
    columns = {
        name: lease_values(policy, name, table.column(name).combine_chunks(), rows, keys)
        for name in lease.columns
    }
    return pa.table(columns).take(pa.array(shuffle_order(keys, len(rows))))


def lease_values(
    policy: Policy, name: str, values: pa.Array, rows: np.ndarray, keys: Keyring
) -> pa.Array:
    """One release column as a lease with `keys` gets it (release rows `rows`): pseudonyms
    re-keyed, noisy numbers dithered, anything else as released. Leak tracing recomputes
    a lease's fingerprints with it."""
    rule = policy.column(name).rule
    if rule is None:
        return values
    if rule.name in ("token", "fake"):
        return rule.transform(values, Context(keys))  # a keyed PRF of the release's token
    if rule.name == "noise":
        return dither(values, rows, keys, name, rule.bounds)  # type: ignore[attr-defined]
    return values


def start_download(
    session: Session, exchange: Exchange, buyer: Account, lease: Lease
) -> Job | None:
    """Check the lease and that a download is left; None when the extract is ready to
    stream, else the job that makes it (queued now, in the caller's transaction, if need be).

    ``lease`` comes from ``leases.get_lease``, which has already checked its owner. The
    download is counted and logged by :func:`counted` when its last chunk is sent."""
    require_active(lease, now_utc())
    _require_download_left(lease)
    if lease.extract_name:
        return None
    return jobs.enqueue(
        session,
        kind=JOB_KIND,
        subject=lease.id,
        owner_id=buyer.id,
        max_attempts=exchange.settings.job_max_attempts,
    )


def run_job(exchange: Exchange, run: JobRun) -> dict[str, Any]:
    """The extract job's handler (exchange.jobs): make the extract of lease ``run.subject``."""
    lease = build_extract(exchange, run.subject, run)
    run.rows_done = lease.extract_rows or 0
    return {
        "href": f"/v1/leases/{lease.id}/extract",
        "rows": lease.extract_rows,
        "sha256": lease.extract_sha256,
        "receipt_index": lease.receipt_index,
    }


def build_extract(exchange: Exchange, lease_id: str, run: JobRun | None = None) -> Lease:
    """Make the lease's extract once; later downloads stream the same bytes.

    Nothing here holds a transaction while the extract is made: the lease is read in one
    short transaction, and the finished extract is recorded (with its receipt) in another.
    Making it twice is harmless: the first one recorded is kept, so a job run again after
    its worker died starts from the beginning."""
    with exchange.sessions() as session:
        lease = session.get(Lease, lease_id)
        if lease is None:
            raise NotFound(f"lease {lease_id} does not exist")
        require_active(lease, now_utc())  # a lease revoked while the job waited gets nothing
        if lease.extract_name:
            return lease
        dataset = session.get(Dataset, lease.dataset_id)
        offer = session.get(Offer, lease.offer_id)
        if dataset is None:
            raise MissingRow("datasets", lease.dataset_id)
        if offer is None:
            raise MissingRow("offers", lease.offer_id)
        release = session.get(Release, lease.release_id) if lease.release_id else None
        if release is None:  # a lease requested before releases existed
            release = releases.ensure_release(session, exchange, dataset, require_policy(dataset))
        session.commit()
    _report(run, 5)
    # A name of its own: two workers making the same extract must not overwrite each other.
    name = f"extract-{lease.id}-{secrets.token_hex(4)}"
    data_key = exchange.store.new_data_key()
    extract = project(exchange, release, lease)
    _report(run, 40)
    with (
        exchange.store.writer(name, data_key, context=_extract_context(lease.id)) as writer,
        pq.ParquetWriter(writer, extract.schema) as parquet,
    ):
        for start in range(0, extract.num_rows, CSV_BATCH_ROWS):
            if run is not None and run.cancelled:
                raise Stopped
            parquet.write_table(extract.slice(start, CSV_BATCH_ROWS))
            done = min(start + CSV_BATCH_ROWS, extract.num_rows)
            _report(run, 40 + 55 * done / extract.num_rows, done)
    if run is not None and run.cancelled:
        exchange.store.delete(name)
        raise Stopped
    with exchange.sessions() as session:
        lease = _record(session, exchange, lease, release, name, data_key, writer, extract)
        session.commit()
    return lease


def _report(run: JobRun | None, percent: float, rows_done: int | None = None) -> None:
    if run is not None:
        run.progress(percent, rows_done)


def _record(
    session: Session,
    exchange: Exchange,
    lease: Lease,
    release: Release,
    name: str,
    data_key: bytes,
    writer: Any,
    extract: pa.Table,
) -> Lease:
    """Point the lease at its new extract and log the receipt, unless another worker
    recorded one first (then this one is deleted)."""
    claimed = session.execute(
        update(Lease)
        .where(Lease.id == lease.id, Lease.extract_name.is_(None))
        .values(
            extract_name=name,
            extract_wrapped_key=exchange.master.wrap(data_key, context=_extract_context(lease.id)),
            extract_sha256=writer.plaintext_sha256,
            extract_rows=extract.num_rows,
            release_id=release.id,
        )
    )
    if rowcount(claimed) != 1:  # another worker made it first: keep theirs
        exchange.store.delete(name)
        return _reread(session, lease.id)
    dataset = session.get(Dataset, lease.dataset_id)
    offer = session.get(Offer, lease.offer_id)
    if dataset is None:
        raise MissingRow("datasets", lease.dataset_id)
    if offer is None:
        raise MissingRow("offers", lease.offer_id)
    index = exchange.log.record(
        session,
        "desensitization_receipt",
        actor="exchange",
        lease=lease.id,
        dataset=dataset.id,
        buyer=lease.buyer_id,
        policy_hash=release.policy_hash,
        release=release.id,
        release_sha256=release.sha256,
        raw_sha256=dataset.raw_sha256,
        extract_sha256=writer.plaintext_sha256,
        key_id=lease.key_id,
        rows=extract.num_rows,
        k=offer.k,
        epsilon=str(lease.extract_epsilon_micro / MICRO),
        suppressed_rows=release.report.get("rows_suppressed", 0),
    )
    session.execute(update(Lease).where(Lease.id == lease.id).values(receipt_index=index))
    return _reread(session, lease.id)


def _reread(session: Session, lease_id: str) -> Lease:
    recorded = session.get(Lease, lease_id)
    if recorded is None:
        raise MissingRow("leases", lease_id)
    session.refresh(recorded)
    return recorded


def _require_download_left(lease: Lease) -> None:
    if lease.downloads >= lease.max_downloads:
        raise _limit_reached(lease)


def _limit_reached(lease: Lease) -> Forbidden:
    return Forbidden(
        f"lease {lease.id} allows {lease.max_downloads} downloads; all are used",
        code="download_limit",
    )


def counted(
    exchange: Exchange, buyer: Account, lease: Lease, chunks: Iterator[bytes]
) -> Iterator[bytes]:
    """``chunks`` with the download counted (within the limit) and logged just before the
    last chunk is sent: an interrupted download uses up nothing, and a download that would
    pass the limit (another one finished first) ends without its last chunk."""
    held: bytes | None = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    _finish_download(exchange, buyer, lease)
    if held is not None:
        yield held


def _finish_download(exchange: Exchange, buyer: Account, lease: Lease) -> None:
    with exchange.sessions() as session:
        done = session.execute(
            update(Lease)
            .where(Lease.id == lease.id, Lease.downloads < Lease.max_downloads)
            .values(downloads=Lease.downloads + 1)
        )
        if rowcount(done) != 1:
            raise _limit_reached(lease)
        exchange.log.record(
            session,
            "extract_download",
            actor=buyer.id,
            lease=lease.id,
            dataset=lease.dataset_id,
            extract_sha256=lease.extract_sha256,
        )
        session.commit()


def _open(exchange: Exchange, lease: Lease) -> Any:
    if not (lease.extract_name and lease.extract_wrapped_key):
        raise RuntimeError(f"lease {lease.id} has no extract to open")
    key = exchange.master.unwrap(lease.extract_wrapped_key, context=_extract_context(lease.id))
    return exchange.store.open_plaintext(
        lease.extract_name, key, context=_extract_context(lease.id)
    )


def stream_parquet(exchange: Exchange, lease: Lease) -> Iterator[bytes]:
    with _open(exchange, lease) as fh:
        while chunk := fh.read(1 << 20):
            yield chunk


def stream_csv(exchange: Exchange, lease: Lease) -> Iterator[bytes]:
    """UTF-8 CSV, batch by batch, with spreadsheet formulas neutralised in cells and header."""
    with _open(exchange, lease) as fh:
        parquet = pq.ParquetFile(fh)  # the decrypting reader seeks, so memory stays bounded
        names = neutralise_names(parquet.schema_arrow.names)  # column names come from uploads
        header = True
        for batch in parquet.iter_batches(batch_size=CSV_BATCH_ROWS):
            frame = neutralise_formulas(batch.to_pandas())
            frame.columns = names
            yield frame.to_csv(index=False, header=header).encode("utf-8")
            header = False
        if header:  # an empty extract still has its header line
            yield pd.DataFrame(columns=names).to_csv(index=False).encode("utf-8")
