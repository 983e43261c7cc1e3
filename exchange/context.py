"""The running exchange: settings, database, keys, encrypted store and the verifiable log.

One ``Exchange`` per process; handlers reach it through ``request.app.state`` so
nothing lives in module globals and tests can run several side by side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from exchange.crypto.master import MasterKey, load_or_create_master_key
from exchange.crypto.store import EncryptedStore
from exchange.db.session import make_engine, make_read_sessionmaker, make_sessionmaker, migrate
from exchange.services.ledger import LogService
from exchange.services.query_cache import QueryCache
from exchange.services.signing import SigningKey, load_or_create_signing_key
from exchange.settings import Settings

log = logging.getLogger("datalease")


@dataclass
class Exchange:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # for work that only reads: never takes the write lock (see make_read_sessionmaker)
    reads: sessionmaker[Session]
    master: MasterKey
    store: EncryptedStore
    signer: SigningKey
    log: LogService = field(repr=False)
    # decoded columns for DP queries, per process and bounded in bytes
    query_cache: QueryCache = field(default_factory=QueryCache, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Exchange:
        settings.prepare()
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        sessions = make_sessionmaker(engine)
        reads = make_read_sessionmaker(engine)
        first_run = not settings.resolved_master_key_file.exists()
        master = load_or_create_master_key(settings.resolved_master_key_file)
        if first_run:
            _warn_new_master_key(settings)
        signer = load_or_create_signing_key(settings.resolved_signing_key_file)
        store = EncryptedStore(settings.resolved_storage_dir, master)
        store.hold()  # other processes see the store in use (no startup sweep meanwhile)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            reads=reads,
            master=master,
            store=store,
            signer=signer,
            log=LogService(reads, signer),  # it opens sessions only to read the tree
        )

    def close(self) -> None:
        self.store.release()
        self.engine.dispose()


def _warn_new_master_key(settings: Settings) -> None:
    log.warning(
        "created a new master key in %s: keep this directory out of version control and "
        "back it up (without the key no stored data can be read); set DATALEASE_DATA_DIR "
        "to keep the data elsewhere",
        settings.resolved_master_key_file.parent.resolve(),
    )
