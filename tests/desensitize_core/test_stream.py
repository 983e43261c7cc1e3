"""`apply_stream`: identical to `apply`, over CSV (UTF-8 or GBK) and Parquet, leaving no debris."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from desensitize import (
    DataError,
    KAnonymityError,
    Keyring,
    Policy,
    PolicyError,
    apply,
    apply_stream,
    apply_table,
)
from desensitize import engine as engine_module
from desensitize import stream as stream_module
from desensitize.engine import Desensitizer
from desensitize.rules.noise import ROW_BLOCK
from examples.city_vocab import SHENZHEN_DISTRICTS
from examples.generate_city_data import generate_citizens

ROWS = 140_000  # many noise blocks and batches, and more than the utility sample


@pytest.fixture(scope="module")
def citizens() -> pd.DataFrame:
    frame = generate_citizens(ROWS, seed=3)
    frame["diagnosis"] = np.random.default_rng(3).choice(["flu", "asthma", "ulcer"], ROWS)
    return frame


@pytest.fixture(scope="module")
def full_policy() -> dict:
    """Every kind of rule, a row filter, fitted quantiles, k-anonymity and l-diversity."""
    return {
        "k": 20,
        "l_diversity": {"column": "diagnosis", "l": 2},
        "columns": {
            "citizen_id": {"class": "identifier", "rule": "token", "algorithm": "hmac-sha256"},
            "name": {"class": "identifier", "rule": "fake", "kind": "name"},
            "resident_id": {"class": "identifier", "rule": "mask", "preset": "cn_resident_id"},
            "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
            "email": {"class": "identifier", "rule": "suppress"},
            "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "day"},
            "gender": {"class": "quasi_identifier", "rule": "keep"},
            "district": {
                "class": "quasi_identifier",
                "rule": "generalize",
                "hierarchy": [dict.fromkeys(SHENZHEN_DISTRICTS, "深圳市")],
            },
            "address": {"class": "identifier", "rule": "fake", "kind": "address"},
            "household_size": {
                "class": "attribute",
                "rule": "suppress",
                "where": {"in": [7]},
                "drop_rows": True,
            },
            "monthly_income": {
                "class": "sensitive",
                "rule": "noise",
                "epsilon": 0.5,
                "bounds": [0, 100000],
            },
            "card_id": {"class": "attribute", "rule": "token"},
            "diagnosis": {"class": "sensitive", "rule": "mask", "keep_first": 3},
        },
    }


@pytest.fixture(scope="module")
def in_memory(citizens: pd.DataFrame, full_policy: dict):
    return apply(citizens, full_policy, Keyring(b"stream-test-secret-0123456789ab"))


@pytest.fixture
def keys() -> Keyring:
    return Keyring(b"stream-test-secret-0123456789ab")


def test_streaming_parquet_equals_in_memory(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, in_memory, keys: Keyring
) -> None:
    source, sink = tmp_path / "in.parquet", tmp_path / "out.parquet"
    citizens.to_parquet(source, index=False, row_group_size=30_000)
    report = apply_stream(source, sink, full_policy, keys, batch_rows=25_000)
    expected = in_memory.frame.reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(sink), expected)
    assert report.rows_suppressed > 0 and report.rows_dropped_by_rules > 0
    memory = in_memory.report.to_dict()
    for field in ("k_anonymity", "risk_before", "risk_after", "utility", "columns", "rows_out"):
        assert report.to_dict()[field] == memory[field], field


def test_streaming_csv_equals_in_memory_of_the_same_file(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    source, sink = tmp_path / "in.csv", tmp_path / "out.csv"
    head = citizens.iloc[:20_000]
    pacsv.write_csv(pa.Table.from_pandas(head, preserve_index=False), source)
    apply_stream(source, sink, full_policy, keys)
    text = {"resident_id", "mobile", "citizen_id", "name", "address", "card_id", "diagnosis"}
    options = pacsv.ConvertOptions(column_types={c: pa.string() for c in text})
    frame = pacsv.read_csv(source, convert_options=options).to_pandas()
    expected = apply(frame, full_policy, keys).frame.reset_index(drop=True)
    written = pacsv.read_csv(
        sink,
        convert_options=pacsv.ConvertOptions(
            column_types=pa.Table.from_pandas(expected, preserve_index=False).schema
        ),
    ).to_pandas()
    pd.testing.assert_frame_equal(written, expected)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_table_written_as_it_is_made_equals_in_memory(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, in_memory, keys: Keyring, suffix
) -> None:
    table = pa.Table.from_pandas(citizens, preserve_index=False)
    sink = tmp_path / f"out.{suffix}"
    report = apply_table(table, sink, full_policy, keys)
    expected = in_memory.frame.reset_index(drop=True)
    if suffix == "parquet":
        written = pd.read_parquet(sink)
    else:
        schema = pa.Table.from_pandas(expected, preserve_index=False).schema
        options = pacsv.ConvertOptions(column_types=schema)
        written = pacsv.read_csv(sink, convert_options=options).to_pandas()
    pd.testing.assert_frame_equal(written, expected)
    assert report.to_dict() == in_memory.report.to_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == [sink.name]


def test_a_survey_in_halves_of_rows_counts_what_a_whole_survey_counts(
    citizens: pd.DataFrame, full_policy: dict, keys: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables of two pieces or more are surveyed in two halves of rows side by side. Noise
    above the record cap is counted as a quasi-identifier and draws by row, so each half
    must keep its rows' places: the same level-0 values, the same counts, the same release."""
    policy = copy.deepcopy(full_policy)
    policy["columns"]["monthly_income"]["epsilon"] = 8.0
    citizens = citizens.iloc[:40_000]
    table = pa.Table.from_pandas(citizens, preserve_index=False)
    monkeypatch.setattr(engine_module, "CHUNK_ROWS", ROW_BLOCK)  # 40,000 rows: two halves
    assert engine_module._halves(len(citizens)) == [(0, 20_000), (20_000, 20_000)]
    surveys, releases = [], []
    for halves in (engine_module._halves, lambda rows: [(0, rows)]):
        monkeypatch.setattr(engine_module, "_halves", halves)
        with Desensitizer(Policy.from_dict(policy), keys, bounded=False) as engine:
            engine.survey(table, 0, keep_bases=True)
            surveys.append((engine._bases, engine._combos.table()))
        releases.append(apply(citizens, policy, keys))
    (halved_bases, halved_counts), (whole_bases, whole_counts) = surveys
    assert "monthly_income" in halved_bases
    assert all(halved_bases[name].equals(whole_bases[name]) for name in whole_bases)
    assert halved_counts.equals(whole_counts)
    assert releases[0].table.equals(releases[1].table)


def test_parquet_output_encodes_each_column_for_what_it_holds(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    """Repeating values get a dictionary; tokens, nearly all distinct, are delta-encoded
    and not compressed (their shared prefix is all that compresses)."""
    sink = tmp_path / "out.parquet"
    apply_table(pa.Table.from_pandas(citizens, preserve_index=False), sink, full_policy, keys)
    group = pq.ParquetFile(sink).metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    token, district = chunks["citizen_id"], chunks["district"]
    assert "DELTA_BYTE_ARRAY" in token.encodings and token.compression == "UNCOMPRESSED"
    assert not token.has_dictionary_page
    assert district.has_dictionary_page and district.compression == "SNAPPY"


def test_a_table_whose_output_fails_its_check_leaves_no_file(
    tmp_path: Path,
    citizens: pd.DataFrame,
    full_policy: dict,
    keys: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pieces are written before the output's own check ends: a failing check must take
    back what was written."""

    def failing(self, utility):
        raise KAnonymityError("the output's own classes are smaller than k")

    monkeypatch.setattr(Desensitizer, "finish", failing)
    table = pa.Table.from_pandas(citizens.iloc[:30_000], preserve_index=False)
    with pytest.raises(KAnonymityError, match="smaller than k"):
        apply_table(table, tmp_path / "out.parquet", full_policy, keys)
    assert list(tmp_path.iterdir()) == []


def test_gbk_csv_gives_the_same_output_as_utf8(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    head = citizens.iloc[:3_000]
    (tmp_path / "utf8.csv").write_bytes(head.to_csv(index=False).encode("utf-8"))
    (tmp_path / "gbk.csv").write_bytes(head.to_csv(index=False).encode("gbk"))
    apply_stream(tmp_path / "utf8.csv", tmp_path / "a.parquet", full_policy, keys)
    apply_stream(tmp_path / "gbk.csv", tmp_path / "b.parquet", full_policy, keys, encoding="gbk")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    )
    with pytest.raises(DataError, match="cannot decode the file with the given encoding"):
        apply_stream(tmp_path / "gbk.csv", tmp_path / "c.parquet", full_policy, keys)
    assert not (tmp_path / "c.parquet").exists()


def test_an_empty_source_gives_an_empty_sink_with_the_output_columns(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    source, sink = tmp_path / "in.parquet", tmp_path / "out.parquet"
    citizens.iloc[:0].to_parquet(source, index=False)
    report = apply_stream(source, sink, full_policy, keys)
    written = pd.read_parquet(sink)
    assert len(written) == 0 and list(written.columns) == list(full_policy["columns"])
    assert report.rows_in == 0


def test_a_missing_column_fails_before_anything_is_written(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    source, sink = tmp_path / "in.parquet", tmp_path / "out.parquet"
    citizens.iloc[:100].drop(columns="mobile").to_parquet(source, index=False)
    with pytest.raises(PolicyError, match="column 'mobile': named by the policy but missing"):
        apply_stream(source, sink, full_policy, keys)
    assert list(tmp_path.iterdir()) == [source]


def test_k_larger_than_the_table_leaves_no_output(
    tmp_path: Path, citizens: pd.DataFrame, full_policy: dict, keys: Keyring
) -> None:
    source, sink = tmp_path / "in.parquet", tmp_path / "out.parquet"
    citizens.iloc[:10].to_parquet(source, index=False)
    with pytest.raises(KAnonymityError, match="larger than the table"):
        apply_stream(source, sink, full_policy, keys)
    assert list(tmp_path.iterdir()) == [source]


def test_a_bad_value_late_in_a_csv_names_the_column_not_the_value(
    tmp_path: Path, keys: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "CSV_BLOCK_BYTES", 1 << 10)
    source, sink = tmp_path / "in.csv", tmp_path / "out.csv"
    lines = ["note,zone,amount"] + [f"n,z{i % 3},{i}" for i in range(2_000)] + ["n,z1,secret-42"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    noise = {"class": "sensitive", "rule": "noise", "epsilon": 1.0, "bounds": [0, 5000]}
    policy = {"columns": {"amount": noise, "zone": {"class": "attribute"}}}
    with pytest.raises(DataError, match="column 'amount': a value does not fit") as caught:
        apply_stream(source, sink, policy, keys)
    assert "secret-42" not in str(caught.value)
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize(
    ("name", "message"),
    [("in.xlsx", "expected a .csv or .parquet file"), ("missing.csv", "no such file")],
)
def test_unusable_sources_are_refused(
    tmp_path: Path, name: str, message: str, full_policy: dict, keys: Keyring
) -> None:
    with pytest.raises(DataError, match=message):
        apply_stream(tmp_path / name, tmp_path / "out.csv", full_policy, keys)
