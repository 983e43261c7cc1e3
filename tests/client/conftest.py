"""One real ``datalease serve`` for the client and command-line tests, with an account of
each role; every test makes its own dataset, so tests do not depend on each other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from examples.generate_city_data import generate
from exchange.client import Client
from tests.exchange.servers import ServeProcess

ROLES = ("provider", "buyer", "auditor")
PURPOSE = "academic-research"


@dataclass
class Running:
    server: ServeProcess
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str, **kwargs: Any) -> Client:
        return Client(self.url, self.keys[role], **kwargs)


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("client-server")
    with ServeProcess(root / "data", root / "server.log") as server:
        keys = {"operator": server.create_account("operator", "ops")["api_key"]}
        with Client(server.url, keys["operator"]) as operator:
            for role in ROLES:
                keys[role] = operator.create_account(role, role, f"{role} org").api_key
        yield Running(server, keys)


@pytest.fixture(scope="session")
def citizens_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("client-data") / "citizens.csv"
    generate("citizens", 400, seed=5).to_csv(path, index=False)
    return path


def offer_terms() -> dict[str, Any]:
    return {
        "title": "citizens, desensitized",
        "terms": {"allowed_purposes": [PURPOSE], "max_period_days": 60, "max_downloads": 3},
        "pricing": {"base_minor_per_1000_rows": 2_000, "minimum_minor": 1_000},
        "shares_bp": {"provider": 8000, "platform": 1500, "subject_pool": 500},
        "epsilon_cap": 10.0,
        "k": 3,
    }


def published(running: Running, citizens_csv: Path) -> tuple[str, str]:
    """A dataset with the suggested policy and an offer of it: (dataset id, offer id)."""
    with running.client("provider") as provider:
        dataset = provider.upload_dataset(citizens_csv, name="citizens")
        policy = dataset.suggested_policy
        policy["k"] = 3
        provider.set_policy(dataset.id, policy)
        offer = provider.publish_offer(dataset.id, **offer_terms())
    return dataset.id, offer.id
