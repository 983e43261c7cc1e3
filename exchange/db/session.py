"""Engine, sessions and schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same in every worker process.
MIGRATION_LOCK_ID = 7_240_318
# Execution option that marks an engine (and its connections) as used for reading only.
READ_ONLY = "datalease_read_only"
# Sync handlers run on anyio's 40 worker threads. At most Settings.db_requests requests
# hold sessions at once (exchange.api.deps.DatabaseSlots), most with one connection open
# once their handler is done; the pools leave room beyond that for the threads at work,
# so a thread waiting for a connection waits for work in progress, never for a request
# that itself waits for a thread.
WORKER_THREADS = 40


def make_engine(url: str) -> Engine:
    """An engine with the per-backend settings the exchange relies on."""
    if url.startswith("sqlite"):
        # An SQLite connection is a file handle and a small cache: one is kept for every
        # worker thread, and a burst beyond that opens short-lived extra ones.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            pool_size=WORKER_THREADS,
            max_overflow=2 * WORKER_THREADS,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let pysqlite leave transactions alone so BEGIN IMMEDIATE below takes the write lock.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers serialise at BEGIN instead of failing later on a lock upgrade. Readers
            # take no lock: in WAL mode a deferred transaction reads its snapshot while the
            # one writer works, so reads never queue behind writes or each other.
            read_only = conn.get_execution_options().get(READ_ONLY)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # hide_parameters: SQL logs at DEBUG must never print bound values. At most 30
    # connections per process, more than its db_requests hold once their handlers are done:
    # two server processes leave PostgreSQL's default 100 room for other clients.
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several workers start at once."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                conn.commit()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads: no write lock on SQLite, and a flush is refused,
    since a deferred SQLite transaction that starts writing can fail on the lock upgrade."""
    factory = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_flush)
    return factory


def _refuse_flush(session: Session, *_: Any) -> None:
    raise RuntimeError("a read-only session cannot write; use a write session (BEGIN IMMEDIATE)")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together or not at all."""
    with factory() as session, session.begin():
        yield session
