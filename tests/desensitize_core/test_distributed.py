"""`apply_dask`: partitioned Parquet on a two-process cluster gives `apply_stream`'s release.

Partitions are cut at row counts that are not multiples of the noise block, one of
them smaller than a block, so noise blocks straddle files."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402

from desensitize import DataError, KAnonymityError, Keyring, apply_stream  # noqa: E402
from desensitize import distributed as dist  # noqa: E402
from desensitize.rules.noise import ROW_BLOCK  # noqa: E402
from examples.generate_city_data import generate_citizens  # noqa: E402

KEYS = Keyring(b"dask-engine-test-key-0123456789ab")
ROWS = 31_000
CUTS = [0, 7_000, 8_500, 19_999, ROWS]  # the second file holds no block start at all


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def boardings(rows: int, seed: int = 3) -> pd.DataFrame:
    """Many rows per child, so k counts children, not rows."""
    rng = np.random.default_rng(seed)
    students = rows // 20
    child = np.sort(rng.integers(0, students, rows))
    home = rng.integers(0, 25, students)
    stop = np.where(rng.random(rows) < 0.85, home[child], rng.integers(0, 25, rows))
    return pd.DataFrame(
        {
            "student_id": [f"S{c:05d}" for c in child],
            "grade": rng.integers(1, 10, students)[child],
            "stop": [f"stop {s}" for s in stop],
            "hour": rng.choice([7, 8, 16, 17], rows),
            "fare": rng.gamma(2.0, 1.5, rows).round(1),
        }
    )


@pytest.fixture(scope="module")
def citizens() -> pd.DataFrame:
    frame = generate_citizens(ROWS, seed=5)
    frame["diagnosis"] = np.random.default_rng(5).choice(["flu", "asthma", "ulcer"], ROWS)
    return frame


def _split(frame: pd.DataFrame, root: Path) -> tuple[Path, Path]:
    """The frame as one file, and as a directory of files cut at `CUTS` (names in
    natural order differ from their lexical order)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    whole = root / "whole.parquet"
    pq.write_table(table, whole)
    parts = root / "parts"
    parts.mkdir()
    cuts = [min(c, len(frame)) for c in CUTS]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        pq.write_table(table.slice(a, b - a), parts / f"part.{i * 5}.parquet", row_group_size=3_000)
    (parts / "_SUCCESS").write_text("")
    return whole, parts


def _same_release(whole: Path, parts: Path, tmp: Path, policy: dict, client: Client, **kw):
    expected = apply_stream(whole, tmp / "stream.parquet", policy, KEYS)
    report = dist.apply_dask(f"file://{parts}", tmp / "out", policy, KEYS, client=client, **kw)
    files = sorted((tmp / "out").iterdir())
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(len(files))]
    got = pa.concat_tables([pq.read_table(f) for f in files])
    want = pq.read_table(tmp / "stream.parquet")
    if "row_ids" in kw:
        got = got.drop_columns([kw["row_ids"]])
    # Pieces are written in input order, so the same multiset comes out in the same order.
    assert got.equals(want)
    assert report.to_dict() == expected.to_dict()
    return report, expected


@pytest.mark.parametrize("kind", ["k_and_l", "no_model"])
def test_citizens_release_matches_the_stream(
    citizens: pd.DataFrame, tmp_path: Path, client: Client, kind: str
) -> None:
    whole, parts = _split(citizens, tmp_path)
    noise = {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 100000]}
    columns = {
        "citizen_id": {"class": "identifier", "rule": "token", "link": "citizen"},
        "name": {"class": "identifier", "rule": "fake", "kind": "name"},
        "address": {"class": "identifier", "rule": "fake", "kind": "address"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "day"},
        "gender": {"class": "quasi_identifier", "rule": "keep"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "monthly_income": noise,
    }
    if kind == "k_and_l":
        policy = {
            "k": 10,
            "l_diversity": {"column": "diagnosis", "l": 2},
            "columns": {**columns, "diagnosis": {"class": "sensitive", "rule": "keep"}},
        }
    else:  # quantiles fitted across files, a row filter, the raw input's risk
        columns["household_size"] = {
            "class": "attribute",
            "rule": "top_bottom_code",
            "quantiles": [0.05, 0.9],
        }
        columns["mobile"] = {
            "class": "attribute",
            "rule": "suppress",
            "where": {"matches": "7$"},
            "drop_rows": True,
        }
        policy = {"columns": columns}
    report, _ = _same_release(whole, parts, tmp_path, policy, client, row_ids="__row__")
    assert report.rows_in == ROWS
    if kind == "k_and_l":
        assert report.k_anonymity["levels"]
    else:
        assert report.rows_dropped_by_rules > 0


@pytest.mark.parametrize("linked", [False, True])
def test_privacy_unit_release_matches_the_stream(
    tmp_path: Path, client: Client, linked: bool
) -> None:
    whole, parts = _split(boardings(ROWS), tmp_path)
    columns: dict = {
        "grade": {"class": "quasi_identifier", "rule": "keep"},
        "stop": {"class": "quasi_identifier", "rule": "keep"},
        "hour": {"class": "quasi_identifier", "rule": "keep"},
        "fare": {"class": "attribute", "rule": "noise", "epsilon": 0.5, "bounds": [0, 20]},
    }
    if linked:
        columns["student_id"] = {"class": "identifier", "rule": "token"}
    policy = {"k": 5, "privacy_unit": {"column": "student_id"}, "columns": columns}
    # Files cut at their row groups as well: more pieces, the same release.
    report, _ = _same_release(whole, parts, tmp_path, policy, client, piece_rows=4_000)
    assert report.rows_suppressed > 0
    assert report.gate["linked_rows"] is linked


def test_workers_hold_no_keys_after_a_run(tmp_path: Path, client: Client) -> None:
    whole, parts = _split(boardings(2_000), tmp_path)
    policy = {"columns": {"student_id": {"class": "identifier", "rule": "token"}}}
    dist.apply_dask(parts, tmp_path / "out", policy, KEYS, client=client)
    held = client.run(lambda: len(dist._SHARED))
    assert held and set(held.values()) == {0}
    assert not any(n.startswith("datalease-") for n in client.run_on_scheduler(_plugins))


class Sealed(dist.FileCodec):
    """Whole files sealed with AES-GCM under a key only this object holds."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def reader(self, fs: Any, path: str) -> BinaryIO:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sealed = fs.cat_file(path)
        return io.BytesIO(AESGCM(self.key).decrypt(sealed[:12], sealed[12:], None))

    def writer(self, fs: Any, path: str) -> BinaryIO:
        key = self.key

        class Sealing(io.BytesIO):
            def close(self) -> None:
                if not self.closed:
                    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

                    nonce = os.urandom(12)
                    fs.pipe_file(path, nonce + AESGCM(key).encrypt(nonce, self.getvalue(), None))
                super().close()

        return Sealing()


def test_sealed_partitions_give_sealed_output_and_the_same_release(
    tmp_path: Path, client: Client
) -> None:
    frame = boardings(12_000)
    whole, parts = _split(frame, tmp_path)
    codec = Sealed(os.urandom(32))
    for file in parts.glob("*.parquet"):
        with codec.writer(dist.fsspec.filesystem("file"), str(file)) as fh:
            fh.write(file.read_bytes())
    policy = {
        "k": 5,
        "privacy_unit": {"column": "student_id"},
        "columns": {
            "student_id": {"class": "identifier", "rule": "token"},
            "grade": {"class": "quasi_identifier", "rule": "keep"},
            "stop": {"class": "quasi_identifier", "rule": "keep"},
            "fare": {"class": "attribute", "rule": "noise", "epsilon": 0.5, "bounds": [0, 20]},
        },
    }
    expected = apply_stream(whole, tmp_path / "stream.parquet", policy, KEYS)
    report = dist.apply_dask(parts, tmp_path / "out", policy, KEYS, client=client, codec=codec)
    assert report.to_dict() == expected.to_dict()
    files = sorted((tmp_path / "out").iterdir())
    assert all(not f.read_bytes().startswith(b"PAR1") for f in files)
    fs = dist.fsspec.filesystem("file")
    got = pa.concat_tables([pq.read_table(codec.reader(fs, str(f))) for f in files])
    assert got.equals(pq.read_table(tmp_path / "stream.parquet"))


def test_cluster_check_names_the_workers_and_makes_the_same_release(client: Client) -> None:
    found = dist.cluster_check(client)
    assert len(found["workers"]) == 2
    assert found["same_release"] is True and 0 < found["rows_out"] <= found["rows"]


def _plugins(dask_scheduler) -> list[str]:  # type: ignore[no-untyped-def]
    return list(dask_scheduler.worker_plugins)


def test_a_failing_gate_leaves_no_output(
    citizens: pd.DataFrame, tmp_path: Path, client: Client
) -> None:
    whole, parts = _split(citizens.head(20), tmp_path)  # three of its files are empty
    policy = {"k": 50, "columns": {"gender": {"class": "quasi_identifier", "rule": "keep"}}}
    with pytest.raises(KAnonymityError, match="larger than the table"):
        dist.apply_dask(parts, tmp_path / "out", policy, KEYS, client=client)
    assert not list((tmp_path / "out").iterdir())
    with pytest.raises(DataError, match="not empty"):
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x.parquet").write_text("")
        dist.apply_dask(parts, tmp_path / "busy", policy, KEYS, client=client)


def test_pieces_are_whole_blocks_that_may_read_into_the_next_files(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(ROWS)})
    _, parts = _split(frame, tmp_path)
    found = dist.Partitions.discover(parts)
    assert [Path(p).name for p in found.paths] == [
        f"part.{i}.parquet" for i in (0, 5, 10, 15)
    ]  # natural order; _SUCCESS skipped
    pieces = found.pieces()
    assert [(p.offset, p.rows) for p in pieces] == [(0, 10_000), (10_000, 10_000), (20_000, 11_000)]
    assert all(p.offset % ROW_BLOCK == 0 for p in pieces)
    first = pieces[0].segments  # its block runs through the whole second file
    assert [(Path(s.path).name, s.start, s.stop) for s in first] == [
        ("part.0.parquet", 0, 7_000),
        ("part.5.parquet", 0, 1_500),
        ("part.10.parquet", 0, 1_500),
    ]
    read = pa.Table.from_batches(list(dist._read(found.fs, pieces[1], ["x"])))
    assert read["x"].to_pylist() == list(range(10_000, 20_000))
    # Files larger than `piece_rows` are cut at their row groups (3,000 rows here).
    split = found.pieces(piece_rows=5_000)
    assert [(p.offset, p.rows) for p in split] == [
        (0, 10_000),
        (10_000, 10_000),
        (20_000, 10_000),
        (30_000, 1_000),
    ]
    read = pa.Table.from_batches(list(dist._read(found.fs, split[2], ["x"])))
    assert read["x"].to_pylist() == list(range(20_000, 30_000))


# -- DP aggregate queries on the cluster --------------------------------------------------

DP_KEY = b"lease-query-key-for-the-cluster"
DP_QUERIES = [
    {"op": "count", "epsilon": 0.5},
    {"op": "count", "column": "fare", "epsilon": 0.5},
    {"op": "sum", "column": "fare", "bounds": [0, 10], "epsilon": 0.5},
    {"op": "mean", "column": "fare", "bounds": [0, 10], "epsilon": 0.5},
    {"op": "histogram", "column": "fare", "bins": 6, "range": [0, 12], "epsilon": 0.5},
    {"op": "group_count", "by": "stop", "epsilon": 0.5, "delta": 1e-6, "max_groups": 2},
    {"op": "group_count", "by": "hour", "groups": [7, 8, 16, 17, 23], "epsilon": 0.5},
    {"op": "group_sum", "by": "stop", "column": "fare", "bounds": [0, 10], "epsilon": 0.5},
    {
        "op": "group_sum",
        "by": "grade",
        "column": "fare",
        "bounds": [0, 10],
        "groups": [1, 2, 3],
        "max_groups": 1,
        "epsilon": 0.5,
    },
]


@pytest.mark.parametrize("unit", ["student_id", None], ids=["per_child", "per_row"])
def test_dp_queries_on_the_cluster_keep_the_same_rows_and_answer_the_same(
    tmp_path: Path, client: Client, unit: str | None
) -> None:
    """Each child's rows lie in several files (pieces of 1,500 rows): the cluster must
    bound them as one table does, tally the same figures and, with the same seed, draw
    the same answer."""
    from desensitize.dp import Contribution, Query, answer_query, bounded_rows
    from desensitize.dp.aggregates import tally
    from desensitize.dp.distributed import answer_query_dask, tally_dask

    frame = boardings(ROWS, seed=11).sample(frac=1.0, random_state=2).reset_index(drop=True)
    frame.loc[frame.index % 97 == 0, "fare"] = np.nan
    _, parts = _split(frame, tmp_path)
    table = pq.read_table(tmp_path / "whole.parquet").to_pandas()
    contribution = Contribution(unit, max_rows=3) if unit else Contribution()
    for spec in DP_QUERIES:
        query = Query.from_dict(spec)
        kept = bounded_rows(table, query, contribution, key=DP_KEY)
        want = tally(table[query.columns].iloc[kept], query)
        run = {"contribution": contribution, "key": DP_KEY, "client": client, "piece_rows": 1_500}
        got = tally_dask(parts, query, **run)
        assert (got.rows, got.sizes) == (want.rows, want.sizes), spec
        assert got.total == pytest.approx(want.total, rel=1e-9), spec
        assert got.sums == pytest.approx(want.sums, rel=1e-9), spec
        assert (got.bins is None) == (want.bins is None), spec
        if want.bins is not None:
            assert got.bins.tolist() == want.bins.tolist(), spec
        if spec["op"] == "count" or "groups" in spec:  # OpenDP's selection draws its own noise
            expected = answer_query(table, query, contribution=contribution, key=DP_KEY, rng=7)
            answered = answer_query_dask(parts, query, rng=7, **run)
            assert answered.value == pytest.approx(expected.value, rel=1e-9), spec
            assert answered.record == expected.record, spec
    if unit:  # the bounds bite: children have far more than three rows
        assert (
            bounded_rows(table, Query.from_dict(DP_QUERIES[0]), contribution, key=DP_KEY).size
            < len(table) / 3
        )


def test_partial_counts_merge_to_the_totals_regrouping_each_row_few_times(monkeypatch) -> None:
    """Merging only when the partials hold as many rows as the merged table: a run of
    many pieces whose combinations are nearly all distinct re-groups each row a
    logarithmic number of times, not once per piece."""
    monkeypatch.setattr(dist, "MERGE_ROWS", 100)
    merges = []
    merge = dist._CountMerger._merge
    monkeypatch.setattr(
        dist._CountMerger, "_merge", lambda self: merges.append(self.pending) or merge(self)
    )
    rng = np.random.default_rng(1)
    merger, pieces = dist._CountMerger(), []
    for _ in range(200):
        piece = pa.table({"a": rng.integers(0, 5_000, 60), dist.COUNT: np.ones(60, np.int64)})
        pieces.append(piece)
        merger.add(piece)
    got = merger.table().to_pandas().sort_values("a").reset_index(drop=True)
    want = pa.concat_tables(pieces).to_pandas().groupby("a", as_index=False)[dist.COUNT].sum()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(merges) < 20  # 200 pieces; once per piece past MERGE_ROWS would be ~190
