"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from exchange.db.models import Base
from exchange.db.session import MIGRATIONS, make_engine, migrate


@pytest.fixture
def engine(backend: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if backend == "postgres":
        url = request.getfixturevalue("pg_database_url")
    else:
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = make_engine(url)
    yield engine
    engine.dispose()


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def diffs(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, Base.metadata)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_have_one_head():
    assert len(ScriptDirectory.from_config(config()).get_heads()) == 1


def test_migrated_schema_equals_the_models(engine):
    migrate(engine)
    assert diffs(engine) == []
    head = ScriptDirectory.from_config(config()).get_current_head()
    assert current_revision(engine) == head
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_migrating_again_and_down_and_up_round_trips(engine):
    migrate(engine)
    migrate(engine)  # a second worker starting later finds nothing to do
    assert diffs(engine) == []
    cfg = config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.commit()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None
    migrate(engine)
    assert diffs(engine) == []


def test_the_unused_quotes_table_is_dropped_and_comes_back_on_downgrade(engine):
    migrate(engine)
    assert "quotes" not in inspect(engine).get_table_names()
    cfg = config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
        conn.commit()
    assert {"quotes", "leases"} <= set(inspect(engine).get_table_names())
    migrate(engine)
    assert "quotes" not in inspect(engine).get_table_names()
    assert diffs(engine) == []
