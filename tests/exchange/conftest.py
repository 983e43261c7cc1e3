"""Fixtures for the service: a fresh exchange per test on SQLite, and on PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from exchange.context import Exchange
from exchange.db.models import Base
from exchange.jobs.follow import request_following_jobs
from exchange.main import create_app
from exchange.services.accounts import create_account
from exchange.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "DATALEASE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_available() -> bool:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


@pytest.fixture
def pg_database_url(pg_available: bool) -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not running")
    name = f"datalease_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(tmp_path, request: pytest.FixtureRequest) -> Settings:
    url = None
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "postgres":
        url = request.getfixturevalue("pg_database_url")
    # These suites test the market on listed offers, with the provider approving leases on
    # important data; the review, disclosure and the longer approval chains that are the
    # defaults are walked in test_exchange_governance.py.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        max_upload_bytes=5_000_000,
        review_grades=[],
        approval_chains={"important": ["data_officer"]},
    )


@dataclass
class World:
    """A running exchange with one account of each role, reached through HTTP."""

    client: TestClient
    exchange: Exchange
    keys: dict[str, str]
    ids: dict[str, str]

    def as_(self, who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **headers}

    def call(self, who: str, method: str, url: str, **kwargs: Any):
        """The request as `who`; one answered 202 (an extract being made) is sent again
        once its job is done, as a client that polls the job would."""
        headers = {**self.as_(who), **kwargs.pop("headers", {})}
        return request_following_jobs(
            self.client, method, url, headers=headers, timeout=120, poll=0.05, **kwargs
        )


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    exchange = Exchange.open(settings)
    keys, ids = {}, {}
    with exchange.sessions() as session:
        for who, role, org in [
            ("operator", "operator", "深圳市数据交易所"),
            ("provider", "provider", "深圳市交通运输局"),
            ("provider2", "provider", "福田区数据中心"),
            ("buyer", "buyer", "鹏城出行科技有限公司"),
            ("buyer2", "buyer", "南山研究院"),
            ("auditor", "auditor", "深圳市政务服务数据管理局"),
        ]:
            issued = create_account(session, name=who, role=role, organisation=org)
            keys[who], ids[who] = issued.api_key, issued.account.id
        session.commit()
    app = create_app(exchange=exchange)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client=client, exchange=exchange, keys=keys, ids=ids)


def database_cells(world: World) -> Iterator[tuple[str, str, bytes | str]]:
    """Every non-null cell of every table as (table, column, bytes or text): JSON is
    re-encoded unescaped, so a canary stored inside it is found as written."""
    with world.exchange.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        yield table.name, column, value
                    elif isinstance(value, dict | list):
                        yield table.name, column, json.dumps(value, ensure_ascii=False, default=str)
                    else:
                        yield table.name, column, str(value)


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False).encode(encoding)


def upload(
    world: World,
    frame_or_bytes: pd.DataFrame | bytes,
    *,
    who: str = "provider",
    name: str = "citizens",
    grade: str = "general",
    filename: str = "citizens.csv",
    domain: str = "population",
    **headers: str,
):
    data = frame_or_bytes if isinstance(frame_or_bytes, bytes) else csv_bytes(frame_or_bytes)
    return world.call(
        who,
        "POST",
        "/v1/datasets",
        headers=headers,
        files={"file": (filename, io.BytesIO(data), "text/csv")},
        data={"name": name, "grade": grade, "domain": domain},
    )
