"""Releases: a dataset is anonymized once per policy version, and every lease is a
projection of that one release (plus its own keyed tokens, row order and dither).

A projection of a k-anonymous release is k-anonymous, and two leases of one release
hold the same rows, so leases cannot be differenced. A buyer organisation that holds an
extract of an older release gets one of a newer release only if the two joined row by
row still pass the gate (`check_joinable`).
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desensitize import Keyring, ParquetSource, Policy, apply_batches
from exchange.context import Exchange
from exchange.crypto.reader import BlobReader
from exchange.db.models import Account, Dataset, Lease, Release
from exchange.errors import Conflict
from exchange.memory import give_back
from exchange.services import cluster, consent, minors
from exchange.services.ids import new_id
from exchange.services.raw import data_key as data_key_of
from exchange.services.raw import ensure_table, table_context, table_name

ROW = "__row__"  # the input position of each released row; never leased


def release_keys(exchange: Exchange, dataset_id: str) -> Keyring:
    """One key per dataset, not per policy version: a pseudonym's release token, and so a
    buyer's linkable token, stays the same when the policy changes."""
    return Keyring(exchange.master.derive(f"release:{dataset_id}"))


def _context(release_id: str) -> bytes:
    return f"release:{release_id}".encode()


def current(session: Session, dataset: Dataset) -> Release | None:
    if dataset.policy_hash is None:
        return None
    return _find(session, dataset, dataset.policy_hash)


def _find(session: Session, dataset: Dataset, policy_hash: str) -> Release | None:
    return session.scalars(
        select(Release).where(
            Release.dataset_id == dataset.id,
            Release.policy_hash == policy_hash,
            Release.consent_version == dataset.consent_version,
        )
    ).first()


def ensure_release(
    session: Session, exchange: Exchange, dataset: Dataset, policy: Policy
) -> Release:
    """The release of `policy` for `dataset`, made now if it does not exist yet.

    The gate runs here: a policy whose release would not be k-anonymous (and l-diverse)
    over every released column raises `KAnonymityError`, and nothing is kept. Rows of
    persons who withdrew their consent (`exchange.services.consent`) are left out, and
    minors' data is released only as `exchange.services.minors` allows."""
    minors.check_release(exchange, dataset, policy)
    found = _find(session, dataset, policy.hash())
    if found is not None:
        return found
    release_id = new_id("rel")
    name = f"release-{release_id}"
    data_key = exchange.store.new_data_key()
    dataset_key = data_key_of(exchange, dataset)
    ensure_table(exchange, dataset, dataset_key)
    # The store's reader and writer are file-like enough for pyarrow, not BinaryIO subclasses.
    source = ParquetSource(
        lambda: cast(
            BinaryIO,
            exchange.store.open_plaintext(
                table_name(dataset.id), dataset_key, context=table_context(dataset.id)
            ),
        )
    )
    keys = release_keys(exchange, dataset.id)
    excluded = consent.excluded_rows(session, exchange, dataset)
    with exchange.store.writer(name, data_key, context=_context(release_id)) as writer:
        if len(excluded):
            report = consent.release_without(
                exchange,
                source,
                excluded,
                dataset.rows,
                cast(BinaryIO, writer),
                ROW,
                lambda rest, sink: apply_batches(rest, sink, policy, keys, row_ids=ROW),
            )
        elif exchange.settings.dask_scheduler:
            report = cluster.build_release(
                exchange,
                table_name(dataset.id),
                dataset_key,
                table_context(dataset.id),
                policy,
                keys,
                cast(BinaryIO, writer),
                row_ids=ROW,
            )
        else:
            report = apply_batches(source, cast(BinaryIO, writer), policy, keys, row_ids=ROW)
    give_back()  # the server goes on from here, not from the release's high-water mark
    release = Release(
        id=release_id,
        dataset_id=dataset.id,
        policy_hash=policy.hash(),
        policy=policy.to_dict(),
        storage_name=name,
        wrapped_key=exchange.master.wrap(data_key, context=_context(release_id)),
        sha256=writer.plaintext_sha256,
        rows=report.rows_out,
        report=_public_report(report.to_dict()),
        consent_version=dataset.consent_version,
    )
    try:
        with session.begin_nested():
            session.add(release)
            session.flush()
    except IntegrityError:  # another worker released this policy first: keep theirs
        exchange.store.delete(name)
        return ensure_release(session, exchange, dataset, policy)
    exchange.log.record(
        session,
        "release",
        actor="exchange",
        dataset=dataset.id,
        release=release.id,
        policy_hash=release.policy_hash,
        release_sha256=release.sha256,
        rows=release.rows,
        suppressed_rows=report.rows_suppressed,
        counted_columns=report.gate["counted_columns"],
        counts=report.gate["counts"],
        k=policy.k,
        consent_version=release.consent_version,
        withdrawn_rows=len(excluded),
    )
    return release


def _public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The release report without key ids (they name the release key)."""
    columns = {
        name: {k: v for k, v in entry.items() if k != "key_id"}
        for name, entry in report["columns"].items()
    }
    return {**{k: v for k, v in report.items() if k != "key_id"}, "columns": columns}


def open_plaintext(exchange: Exchange, release: Release) -> BlobReader:
    """The release's Parquet file, decrypted on the fly as it is read (it seeks)."""
    key = exchange.master.unwrap(release.wrapped_key, context=_context(release.id))
    return exchange.store.open_plaintext(release.storage_name, key, context=_context(release.id))


def read(exchange: Exchange, release: Release, columns: list[str]) -> pa.Table:
    """Columns of a release (decrypted on the fly), with each row's input position."""
    with open_plaintext(exchange, release) as fh:
        return pq.read_table(fh, columns=[*columns, ROW])


def check_joinable(
    session: Session, exchange: Exchange, buyer: Account, dataset: Dataset, release: Release
) -> None:
    """Refuse a lease of `release` to a buyer organisation holding an extract of another
    release of the dataset, unless both joined row by row stay k-anonymous.

    The join is the strongest an attacker could make (by the rows' true identity, as a
    linkable pseudonym would allow): every class over the released columns of both must
    still hold k rows, and a row one release suppressed counts as a value of its own."""
    held = _held_releases(session, buyer, dataset, release)
    if not held:
        return
    policy = Policy.from_dict(release.policy)
    k = policy.k or 1
    new = _qi_frame(exchange, release, "new")
    # Rows left out because their persons withdrew consent tell the holder of an older
    # release nothing it does not already hold, but that they are gone: not a class.
    gone = consent.excluded_rows(session, exchange, dataset)
    for old in held:
        joined = _qi_frame(exchange, old, "old").join(new, how="outer")
        if len(gone):
            joined = joined.drop(index=gone, errors="ignore")
        if not len(joined.columns):
            continue
        sizes = joined.fillna("∅").astype(str).groupby(list(joined.columns)).size()
        if sizes.min() < k:
            small = int(sizes[sizes < k].sum())
            raise Conflict(
                f"your organisation holds an extract of release {old.id} of dataset "
                f"{dataset.id}; joined row by row with the current release {release.id}, "
                f"{small} rows fall in classes smaller than k={k} (smallest {int(sizes.min())}"
                f") over {', '.join(map(str, joined.columns))}, so the new release is not "
                "leased to you",
                code="release_not_joinable",
            )


def _held_releases(
    session: Session, buyer: Account, dataset: Dataset, release: Release
) -> list[Release]:
    members = select(Account.id).where(Account.organisation == buyer.organisation)
    if not buyer.organisation:
        members = select(Account.id).where(Account.id == buyer.id)
    ids = session.scalars(
        select(Lease.release_id)
        .where(
            Lease.dataset_id == dataset.id,
            Lease.buyer_id.in_(members),
            Lease.extract_name.is_not(None),
            Lease.release_id.is_not(None),
            Lease.release_id != release.id,
        )
        .distinct()
    ).all()
    return [r for r in (session.get(Release, i) for i in ids) if r is not None]


def _qi_frame(exchange: Exchange, release: Release, tag: str) -> pd.DataFrame:
    columns = Policy.from_dict(release.policy).released_quasi_identifiers
    frame = read(exchange, release, columns).to_pandas().set_index(ROW)
    return frame.rename(columns={c: f"{tag}:{c}" for c in frame.columns})
