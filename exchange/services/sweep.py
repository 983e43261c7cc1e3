"""Crash leftovers: blobs no record references and writers' temporary files, removed at startup.

A process killed mid-upload leaves its writer's ``.name.xxx.part`` file; one killed
between writing a blob and committing its row leaves a blob nothing points to. Both are
removed when the service starts, and only when no other process has the store open
(:meth:`EncryptedStore.alone`): another worker's upload in flight looks exactly like a
leftover. Only the blob kinds the exchange writes are swept (raw uploads, normalised
tables, releases, extracts); other files are left alone. The log names what was removed
(blob names are ids, never data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import Dataset, Lease, Release
from exchange.services.raw import table_name

log = logging.getLogger("datalease")

SWEPT_KINDS = ("raw-", "table-", "release-", "extract-")


@dataclass(frozen=True)
class SweepReport:
    blobs: tuple[str, ...] = ()
    temp_files: tuple[str, ...] = ()
    skipped: bool = False  # another process had the store open


def referenced_blobs(session: Session) -> set[str]:
    """Every blob name a row points to."""
    names: set[str] = set()
    for dataset_id, storage_name in session.execute(select(Dataset.id, Dataset.storage_name)):
        names |= {storage_name, table_name(dataset_id)}
    names.update(session.scalars(select(Release.storage_name)))
    names.update(n for n in session.scalars(select(Lease.extract_name)) if n)
    return names


def sweep_store(exchange: Exchange) -> SweepReport:
    """Remove orphan blobs and temporary files if this process alone has the store open."""
    store = exchange.store
    with store.alone() as alone:
        if not alone:
            log.info("startup sweep skipped: another process has the store open")
            return SweepReport(skipped=True)
        with exchange.sessions() as session:
            keep = referenced_blobs(session)
        orphans = tuple(
            name for name in store.blob_names() if name.startswith(SWEPT_KINDS) and name not in keep
        )
        temps = tuple(store.temp_files())
        for name in orphans:
            store.delete(name)
        for name in temps:
            store.delete_temp(name)
    if orphans or temps:
        log.warning(
            "startup sweep removed %d orphan blob(s) and %d temporary file(s) left by an "
            "interrupted process: %s",
            len(orphans),
            len(temps),
            ", ".join(orphans + temps),
        )
    return SweepReport(blobs=orphans, temp_files=temps)
