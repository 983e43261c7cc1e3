"""Leak tracing: a leaked part of an extract names its lease, among many of one dataset."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from examples.generate_city_data import generate_citizens
from exchange.db.models import Lease, Release
from exchange.services import keyed_order
from exchange.services.extracts import extract_batches
from tests.exchange.conftest import World
from tests.exchange.flows import POLICY, paid_lease, publish

LEASES = 20
TOKENS = [c for c, spec in POLICY["columns"].items() if spec.get("rule") in ("token", "fake")]


@pytest.fixture
def leased(world: World) -> tuple[World, list[str]]:
    _, offer_id = publish(world, generate_citizens(3000, seed=5), epsilon_cap=100.0)
    ids = []
    for i in range(LEASES):
        who = "buyer" if i % 2 == 0 else "buyer2"
        lease = paid_lease(world, offer_id, who=who, epsilon=0.5)
        response = world.call(who, "GET", f"/v1/leases/{lease['id']}/extract?format=parquet")
        assert response.status_code == 200, response.text
        ids.append((lease["id"], who, response.content))
    return world, ids


def _leak(content: bytes, seed: int, rows: int = 1000) -> pd.DataFrame:
    """A part of an extract as a leaker would pass it on: tokens deleted, rows re-ordered."""
    frame = pd.read_parquet(io.BytesIO(content)).drop(columns=TOKENS)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _trace(world: World, frame: pd.DataFrame, fmt: str = "csv", who: str = "auditor"):
    if fmt == "csv":
        data, name = frame.to_csv(index=False).encode(), "leak.csv"
    else:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        data, name = buffer.getvalue(), "leak.parquet"
    return world.call(who, "POST", "/v1/audit/trace", files={"file": (name, data)})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_thousand_leaked_rows_without_tokens_name_their_lease_among_twenty(
    leased: tuple[World, list], fmt: str
) -> None:
    world, leases = leased
    for pick in (3, 14):
        lease_id, _, content = leases[pick]
        response = _trace(world, _leak(content, seed=pick), fmt)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["lease_id"] == lease_id
        assert body["score"] > 0.9 and body["margin"] > 0.5


def test_the_extracts_of_two_leases_hold_the_same_rows_in_other_orders(
    leased: tuple[World, list],
) -> None:
    _, leases = leased
    first, second = (pd.read_parquet(io.BytesIO(c)).drop(columns=TOKENS) for _, _, c in leases[:2])
    shared = [c for c in first.columns if c != "monthly_income"]
    # One release: the same multiset of rows on every column but the dithered one ...
    key = shared
    assert first.value_counts(key, dropna=False).equals(second.value_counts(key, dropna=False))
    assert np.allclose(
        np.sort(first["monthly_income"]), np.sort(second["monthly_income"]), atol=0.2
    )
    # ... in orders that owe nothing to each other.
    aligned = (first[shared].astype(str) == second[shared].astype(str)).all(axis=1).mean()
    assert aligned < 0.2


def test_buyers_cannot_trace_and_a_file_without_fingerprints_names_no_lease(
    leased: tuple[World, list],
) -> None:
    world, leases = leased
    leak = _leak(leases[0][2], seed=1)
    assert _trace(world, leak, who="buyer").status_code == 403
    response = _trace(world, leak.drop(columns=["monthly_income"]))
    assert response.status_code == 200 and response.json()["lease_id"] is None
    bad = world.call(
        "auditor", "POST", "/v1/audit/trace", files={"file": ("x.parquet", b"PAR1 not parquet")}
    )
    assert bad.status_code == 422


def test_the_command_line_traces_on_the_server_host(
    leased: tuple[World, list], tmp_path, settings
) -> None:
    world, leases = leased
    lease_id, _, content = leases[5]
    path = tmp_path / "leak.csv"
    _leak(content, seed=9).to_csv(path, index=False)
    env = {
        "DATALEASE_DATA_DIR": str(settings.data_dir),
        "PATH": "/usr/bin:/bin",
    }
    if settings.database_url:
        env["DATALEASE_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "trace", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f'"lease_id": "{lease_id}"' in done.stdout


def test_an_extract_sorted_through_encrypted_buckets_is_the_one_made_in_memory(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, offer_id = publish(world, generate_citizens(3000, seed=5), epsilon_cap=100.0)
    lease = paid_lease(world, offer_id, epsilon=0.5)
    response = world.call("buyer", "GET", f"/v1/leases/{lease['id']}/extract?format=parquet")
    assert response.status_code == 200, response.text
    stored = pd.read_parquet(io.BytesIO(response.content))
    with world.exchange.sessions() as session:
        row = session.get(Lease, lease["id"])
        release = session.get(Release, row.release_id)
    store = world.exchange.store
    before = set(store.blob_names())
    monkeypatch.setattr(keyed_order, "BUCKET_ROWS", 256)  # a dozen buckets
    remade = pd.concat(b.to_pandas() for b in extract_batches(world.exchange, release, row))
    pd.testing.assert_frame_equal(remade.reset_index(drop=True), stored)
    assert set(store.blob_names()) == before and store.temp_files() == []
