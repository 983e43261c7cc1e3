"""Extracts: the lease's desensitized copy, made once with the lease's own keys by a job
(exchange.jobs) outside any request, stored encrypted, receipted in the verifiable log,
then streamed while the lease is active."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import update
from sqlalchemy.orm import Session

from desensitize import Keyring, Policy
from desensitize.rules.base import Context
from desensitize.watermark import DITHER_SHARE
from exchange import jobs
from exchange.context import Exchange
from exchange.db.dml import rowcount
from exchange.db.models import MICRO, Account, Dataset, Job, Lease, Offer, Release
from exchange.errors import Forbidden, MissingRow, NotFound
from exchange.extract_writer import csv_chunks
from exchange.jobs import JobRun
from exchange.jobs.worker import Stopped
from exchange.memory import give_back, return_large_blocks
from exchange.services import releases
from exchange.services.datasets import require_policy
from exchange.services.keyed_order import KeyedOrder
from exchange.services.leases import lease_keys, now_utc
from exchange.services.lifecycle import require_active

BATCH_ROWS = 50_000  # release rows read, re-keyed and dealt to the order at once
CSV_BATCH_ROWS = 50_000
JOB_KIND = "extract"
ORDER_LABEL = "extract-order"  # the lease key's purpose that ranks the extract's rows


def _extract_context(lease_id: str) -> bytes:
    return f"extract:{lease_id}".encode()


def lease_values(
    policy: Policy, name: str, values: pa.Array, rows: np.ndarray, keys: Keyring
) -> pa.Array:
    """One release column as a lease with `keys` gets it (release rows `rows`): pseudonyms
    re-keyed, noisy numbers dithered, anything else as released. Every value depends on its
    own row only, so any batch of rows gets the values the whole column would. Leak tracing
    recomputes a lease's fingerprints with it."""
    rule = policy.column(name).rule
    if rule is None:
        return values
    if rule.name in ("token", "fake"):
        return rule.transform(values, Context(keys))  # a keyed PRF of the release's token
    if rule.name == "noise":
        return _dither(values, rows, keys, name, rule.bounds)  # type: ignore[attr-defined]
    return values


def _dither(
    values: pa.Array, rows: np.ndarray, keys: Keyring, column: str, bounds: tuple[float, float]
) -> pa.Array:
    """desensitize.watermark.dither, drawing only the release rows between the least and the
    greatest of `rows` rather than every row before them too: the same values, in time and
    memory of a batch (a test holds it to the library's own)."""
    lower, upper = bounds
    x = pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    shift = _keyed_uniform(keys, f"dither:{column}", rows) * 2 - 1
    out = np.clip(x + shift * (upper - lower) * DITHER_SHARE, lower, upper)
    return pa.array(out, mask=np.isnan(out))


def _keyed_uniform(keys: Keyring, label: str, rows: np.ndarray) -> np.ndarray:
    """The `rows`-th numbers of the keyed stream desensitize.watermark draws for `label`.

    The stream is PCG64, one 64-bit step per number, so it is advanced to the first row
    needed instead of being drawn from the start."""
    if not len(rows):
        return np.zeros(0)
    low, high = int(rows.min()), int(rows.max())
    bits = np.random.PCG64(int.from_bytes(keys.derive(label)[:16], "big"))  # as default_rng
    bits.advance(low)
    return np.random.Generator(bits).random(high - low + 1)[rows - low]


def extract_batches(
    exchange: Exchange, release: Release, lease: Lease, run: JobRun | None = None
) -> Iterator[pa.RecordBatch]:
    """The lease's extract: the release's rows on the leased columns, pseudonyms re-keyed
    with the lease's keys, noisy numbers dithered, rows in the lease's keyed order.

    Memory holds a batch of the release or a bucket of the order (KeyedOrder), never the
    whole table. A row's place is its keyed rank, a function of the lease key and the row's
    position in the release only: two leases order the same rows unrelatedly, and neither
    order owes anything to the input's."""
    policy = Policy.from_dict(release.policy)
    keys = lease_keys(exchange, lease)
    return_large_blocks()
    with releases.open_plaintext(exchange, release) as fh:
        # Not pre-buffered: pyarrow keeps each row group it pre-buffers until the reader is
        # closed, so reading a whole release batch by batch would end up holding all of it.
        parquet = pq.ParquetFile(fh, pre_buffer=False)
        total = parquet.metadata.num_rows
        with KeyedOrder(
            exchange.store, keys.derive(ORDER_LABEL), total, f"extract-{lease.id}"
        ) as order:
            columns = [*lease.columns, releases.ROW]
            done = 0
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                _stop_if_cancelled(run)
                rows = batch.column(releases.ROW).to_numpy()
                order.add(_leased(policy, lease, batch, rows, keys), rows)
                done += batch.num_rows
                _report(run, 5 + 45 * done / total)
            if not total:  # no rows: their types still make the file's schema
                empty = pa.RecordBatch.from_pylist([], schema=parquet.schema_arrow)
                rows = np.zeros(0, dtype=np.int64)
                order.add(_leased(policy, lease, empty.select(columns), rows, keys), rows)
            give_back()  # what dealing the rows used, before the buckets are sorted
            yield from order.batches()


def _leased(
    policy: Policy, lease: Lease, batch: pa.RecordBatch, rows: np.ndarray, keys: Keyring
) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [lease_values(policy, n, batch.column(n), rows, keys) for n in lease.columns],
        names=list(lease.columns),
    )


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
    rows = 0
    with exchange.store.writer(name, data_key, context=_extract_context(lease.id)) as writer:
        parquet: pq.ParquetWriter | None = None
        for batch in extract_batches(exchange, release, lease, run):
            _stop_if_cancelled(run)
            parquet = parquet or pq.ParquetWriter(writer, batch.schema)
            if batch.num_rows:
                parquet.write_batch(batch)
            rows += batch.num_rows
            _report(run, 50 + 45 * rows / max(release.rows, 1), rows)
        if parquet is not None:
            parquet.close()
    if run is not None and run.cancelled:
        exchange.store.delete(name)
        raise Stopped
    with exchange.sessions() as session:
        lease = _record(session, exchange, lease, release, name, data_key, writer, rows)
        session.commit()
    return lease


def _stop_if_cancelled(run: JobRun | None) -> None:
    if run is not None and run.cancelled:
        raise Stopped


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
    rows: int,
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
            extract_rows=rows,
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
        rows=rows,
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
        # The decrypting reader seeks, and without pre-buffering (see extract_batches) only
        # the row group being read is held, so memory stays bounded.
        parquet = pq.ParquetFile(fh, pre_buffer=False)
        yield from csv_chunks(parquet.schema_arrow, parquet.iter_batches(batch_size=CSV_BATCH_ROWS))
