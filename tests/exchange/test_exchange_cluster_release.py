"""With DATALEASE_DASK_SCHEDULER set, a release is made on the cluster from the sealed
table, and it is the release the exchange makes in-process."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, cast

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from desensitize import ParquetSource, Policy, apply_batches  # noqa: E402
from exchange.db.models import Dataset, Lease  # noqa: E402
from exchange.services import cluster, datasets, releases  # noqa: E402
from exchange.services.raw import data_key, table_context, table_name  # noqa: E402
from exchange.settings import Settings  # noqa: E402
from tests.exchange.conftest import upload  # noqa: E402

ROWS = 24_000
POLICY = {
    "k": 5,
    "privacy_unit": {"column": "student_id"},
    "columns": {
        "student_id": {"class": "identifier", "rule": "token"},
        "grade": {"class": "quasi_identifier", "rule": "keep"},
        "stop": {"class": "quasi_identifier", "rule": "keep"},
        "fare": {"class": "attribute", "rule": "noise", "epsilon": 0.5, "bounds": [0, 20]},
    },
}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as found:
        yield found.scheduler_address


@pytest.fixture
def settings(tmp_path, scheduler: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", max_upload_bytes=5_000_000, dask_scheduler=scheduler
    )


def boardings() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    child = np.sort(rng.integers(0, ROWS // 20, ROWS))
    return pd.DataFrame(
        {
            "student_id": [f"S{c:05d}" for c in child],
            "grade": rng.integers(1, 10, ROWS // 20)[child],
            "stop": [f"stop {s}" for s in rng.integers(0, 25, ROWS)],
            "fare": rng.gamma(2.0, 1.5, ROWS).round(1),
        }
    )


def test_a_release_made_on_the_cluster_is_the_in_process_release(world, monkeypatch) -> None:
    monkeypatch.setattr(datasets, "UPLOAD_BATCH_ROWS", 3_000)  # a sealed table of row groups
    monkeypatch.setattr(cluster, "PIECE_ROWS", 6_000)  # cut into several pieces
    calls = []
    build = cluster.build_release
    monkeypatch.setattr(cluster, "build_release", lambda *a, **k: calls.append(1) or build(*a, **k))
    response = upload(world, boardings(), name="boardings", filename="boardings.csv")
    assert response.status_code == 201, response.text
    exchange, policy = world.exchange, Policy.from_dict(POLICY)
    with exchange.sessions() as session:
        dataset = session.get(Dataset, response.json()["id"])
        release = releases.ensure_release(session, exchange, dataset, policy)
        session.commit()
        key = data_key(exchange, dataset)
        got = releases.read(exchange, release, list(POLICY["columns"]))
        public = release.report
    with exchange.store.open_plaintext(
        table_name(dataset.id), key, context=table_context(dataset.id)
    ) as fh:
        assert pq.ParquetFile(fh).metadata.num_row_groups > 2
    source = ParquetSource(
        lambda: cast(
            BinaryIO,
            exchange.store.open_plaintext(
                table_name(dataset.id), key, context=table_context(dataset.id)
            ),
        )
    )
    sink = io.BytesIO()
    keys = releases.release_keys(exchange, dataset.id)
    expected = apply_batches(source, sink, policy, keys, row_ids=releases.ROW)
    want = pq.read_table(io.BytesIO(sink.getvalue()))
    assert got.select(want.column_names).equals(want)
    assert public["rows_out"] == expected.rows_out == ROWS - expected.rows_suppressed
    assert public["k_anonymity"] == expected.k_anonymity
    assert calls  # made on the cluster
    assert not list((exchange.settings.data_dir / "cluster").glob("*/*"))  # no pieces left


def test_a_dp_query_is_answered_on_the_cluster_from_the_rows_kept_in_process(
    world, monkeypatch
) -> None:
    """Tallied on the cluster from the sealed table, noised here: the exact figures are
    those the in-process path tallies, with each child's rows bounded alike."""
    from desensitize.dp import Contribution, Query, bounded_rows
    from desensitize.dp import distributed as dp_distributed
    from desensitize.dp.aggregates import tally
    from exchange.services import queries
    from tests.exchange.flows import paid_lease, publish

    monkeypatch.setattr(datasets, "UPLOAD_BATCH_ROWS", 3_000)
    monkeypatch.setattr(cluster, "PIECE_ROWS", 6_000)
    tallied = []
    noisy = dp_distributed.noisy_answer
    monkeypatch.setattr(
        dp_distributed, "noisy_answer", lambda t, *a: tallied.append(t) or noisy(t, *a)
    )
    frame = boardings().sample(frac=1.0, random_state=4).reset_index(drop=True)
    policy = {**POLICY, "privacy_unit": {"column": "student_id", "max_rows": 4}}
    dataset_id, offer_id = publish(world, frame, policy=policy, k=5)
    lease = paid_lease(world, offer_id, epsilon=2.0)
    spec = {"op": "group_sum", "by": "stop", "column": "fare", "bounds": [0, 20], "epsilon": 0.5}
    answer = world.call("buyer", "POST", f"/v1/leases/{lease['id']}/queries", json=spec)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accounting"]["max_rows"] == 4
    assert len(tallied) == 1  # made on the cluster
    exchange, query = world.exchange, Query.from_dict(spec)
    with exchange.sessions() as session:
        dataset = session.get(Dataset, dataset_id)
        table = queries.table(exchange, dataset, ["stop", "fare", "student_id"])
        key = queries._lease_key(exchange, session.get(Lease, lease["id"]))
    contribution = Contribution("student_id", max_rows=4)
    kept = bounded_rows(table, query, contribution, key=key)
    want = tally(table[query.columns].iloc[kept], query)
    assert len(kept) < len(table) / 3  # the bound bites: children board far more often
    assert tallied[0].sizes == want.sizes
    assert tallied[0].sums == pytest.approx(want.sums, rel=1e-9)
