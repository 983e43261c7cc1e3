"""An exchange in-process with one account per role, for the console's request-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from exchange.context import Exchange
from exchange.main import create_app
from exchange.services.accounts import create_account
from exchange.settings import Settings


@dataclass
class App:
    client: TestClient
    keys: dict[str, str]


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    exchange = Exchange.open(Settings(data_dir=tmp_path / "data"))
    keys = {}
    with exchange.sessions() as session:
        for role in ("provider", "buyer", "auditor", "operator"):
            keys[role] = create_account(
                session, name=role, role=role, organisation=f"{role} org"
            ).api_key
        session.commit()
    with TestClient(create_app(exchange=exchange), raise_server_exceptions=False) as client:
        yield App(client, keys)
