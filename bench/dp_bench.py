"""Benchmark DP queries on a lease: queries per second and p50 latency with contribution bounds.

    python bench/dp_bench.py                  # 1M boardings of 50,000 students
    python bench/dp_bench.py --rows 100000    # a quicker run

A temporary exchange (SQLite) gets a boardings table with a privacy unit (student_id,
at most 10 rows per student) over HTTP; then each query runs through the service layer
(`exchange.services.queries.run` in its own session and commit, as the route does), so a
figure includes the charge, the accounting record, the log entry and the commit. The
first query of each kind is timed apart ("cold"): it decrypts and decodes its columns and
chooses each student's rows; later ones read both from the cache. "compute" is the DP
answer alone on the cached columns and rows (no database). Last line:
rows=N count_qps=A count_p50_ms=B mean_qps=C mean_p50_ms=D group_count_qps=E group_count_p50_ms=F
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from desensitize.dp import Query, answer_query, bounded_rows  # noqa: E402
from exchange.context import Exchange  # noqa: E402
from exchange.db.models import Account, Dataset, Lease  # noqa: E402
from exchange.main import create_app  # noqa: E402
from exchange.services import queries  # noqa: E402
from exchange.services.accounts import create_account  # noqa: E402
from exchange.settings import Settings  # noqa: E402

STOPS = ["莲花山", "深圳中学", "市民中心", "福田口岸", "华强北", "车公庙", "科技园", "大学城"]
POLICY = {
    "k": 1,
    "privacy_unit": {"column": "student_id", "max_rows": 10},
    "columns": {
        "student_id": {"class": "drop"},
        "stop": {"class": "attribute", "rule": "keep"},
        "fare": {"class": "attribute", "rule": "keep"},
    },
}
QUERIES: dict[str, dict[str, Any]] = {
    "count": {"op": "count", "epsilon": 0.001},
    "mean": {"op": "mean", "column": "fare", "bounds": [0, 10], "epsilon": 0.001},
    "group_count": {"op": "group_count", "by": "stop", "max_groups": 2, "epsilon": 0.001},
}


def boardings(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    students = max(rows // 20, 1)
    return pd.DataFrame(
        {
            "student_id": [f"S{i:06d}" for i in rng.integers(0, students, rows)],
            "stop": rng.choice(STOPS, rows),
            "fare": rng.integers(1, 8, rows).astype(float),
        }
    )


def setup(exchange: Exchange, rows: int, epsilon: float) -> tuple[str, str]:
    """Upload, set the policy, offer, lease and pay over HTTP; returns (buyer id, lease id)."""
    with exchange.sessions() as session:
        keys = {
            who: create_account(session, name=who, role=who, organisation=f"{who} org")
            for who in ("provider", "buyer")
        }
        session.commit()
        ids = {who: issued.account.id for who, issued in keys.items()}
        auth = {who: {"Authorization": f"Bearer {k.api_key}"} for who, k in keys.items()}
    data = boardings(rows).to_csv(index=False).encode()
    with TestClient(create_app(exchange=exchange), raise_server_exceptions=True) as client:

        def call(who: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
            response = client.request(method, url, headers=auth[who], **kwargs)
            assert response.status_code < 300, response.text
            return response.json()

        dataset = call(
            "provider",
            "POST",
            "/v1/datasets",
            files={"file": ("boardings.csv", io.BytesIO(data), "text/csv")},
            data={"name": "boardings", "grade": "general", "domain": "education"},
        )
        call("provider", "PUT", f"/v1/datasets/{dataset['id']}/policy", json=POLICY)
        offer = call(
            "provider",
            "POST",
            "/v1/offers",
            json={
                "dataset_id": dataset["id"],
                "title": "boardings",
                "terms": {"allowed_purposes": ["academic-research"], "max_period_days": 30},
                "pricing": {"base_minor_per_1000_rows": 1, "minimum_minor": 1},
                "shares_bp": {"provider": 9000, "platform": 1000},
                "epsilon_cap": 1000.0,
                "k": 1,
            },
        )
        body = {"offer_id": offer["id"], "purpose": "academic-research", "days": 7}
        lease = call("buyer", "POST", "/v1/leases", json={**body, "epsilon": epsilon})
        call("buyer", "POST", f"/v1/leases/{lease['id']}/pay")
    return ids["buyer"], lease["id"]


def timed(exchange: Exchange, buyer_id: str, lease_id: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    with exchange.sessions() as session:
        buyer = session.get(Account, buyer_id)
        lease = session.get(Lease, lease_id)
        queries.run(session, exchange, buyer, lease, dict(body))
        session.commit()
    return time.perf_counter() - start


def compute_ms(exchange: Exchange, lease_id: str, body: dict[str, Any], runs: int) -> float:
    """The p50 of the DP answer alone, on the cached columns and a fixed choice of rows."""
    with exchange.sessions() as session:
        lease = session.get(Lease, lease_id)
        dataset = session.get(Dataset, lease.dataset_id)
        contribution = queries.contribution_of(dataset.policy)
        query = Query.from_dict(body)
        frame = queries.table(exchange, dataset, [*query.columns, contribution.unit])
    kept = bounded_rows(frame, query, contribution, key=b"bench")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer_query(frame, query, contribution=contribution, kept=kept)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="timed queries per kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", max_upload_bytes=2_000_000_000)
        exchange = Exchange.open(settings)
        start = time.perf_counter()
        buyer_id, lease_id = setup(exchange, args.rows, epsilon=10.0)
        print(f"setup (upload, release, lease) {time.perf_counter() - start:.1f} s")
        figures: dict[str, float] = {}
        for name, body in QUERIES.items():
            cold = timed(exchange, buyer_id, lease_id, body)
            times = [timed(exchange, buyer_id, lease_id, body) for _ in range(args.queries)]
            p50 = statistics.median(times) * 1000
            qps = len(times) / sum(times)
            figures[f"{name}_qps"], figures[f"{name}_p50_ms"] = qps, p50
            compute = compute_ms(exchange, lease_id, body, args.queries)
            print(
                f"{name:12s} cold {cold * 1000:8.1f} ms  p50 {p50:7.2f} ms  "
                f"{qps:7.1f} queries/s  (compute p50 {compute:6.2f} ms)"
            )
        cache = exchange.query_cache
        print(f"cache: {cache.bytes / 1e6:.1f} MB in {len(cache)} entries, {cache.hits} hits")
        exchange.close()
    print(f"rows={args.rows} " + " ".join(f"{k}={v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
