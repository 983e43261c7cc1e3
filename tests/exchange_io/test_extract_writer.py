"""Writing extracts: CSV injection defence, streaming CSV and Parquet, hashes."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pyarrow.parquet as pq
import pytest

from exchange.extract_writer import iter_extract_bytes, neutralise_formulas, write_extract
from exchange.ingest import read_table

ATTACKS = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\tx", "\rx", "＝1+1"]


def test_formula_cells_in_text_columns_get_an_apostrophe() -> None:
    frame = pd.DataFrame({"cell": [*ATTACKS, "plain", None], "n": range(-5, len(ATTACKS) - 3)})
    out = neutralise_formulas(frame)
    assert out["cell"].tolist()[: len(ATTACKS)] == ["'" + a for a in ATTACKS]
    assert out["cell"].tolist()[-2:] == ["plain", None]
    assert out["n"].iloc[0] == -5 and out["n"].dtype == frame["n"].dtype
    assert frame["cell"].iloc[0] == ATTACKS[0]  # the input is not changed


def test_numbers_dates_and_booleans_are_left_alone() -> None:
    frame = pd.DataFrame(
        {
            "n": [-5, 3],
            "x": [-1.5, 2.0],
            "b": [True, False],
            "t": pd.to_datetime(["2026-11-02", "2026-11-03"]),
        }
    )
    assert neutralise_formulas(frame) is frame


def test_neutralising_is_idempotent_and_covers_string_and_category_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.array(["=1", "a", None], dtype="string"),
            "c": pd.Categorical(["@x", "y", "y"]),
            "o": [1, "-1", None],
        }
    )
    once = neutralise_formulas(frame)
    assert once["s"].tolist()[:2] == ["'=1", "a"] and str(once["s"].dtype) == "string"
    assert once["c"].tolist() == ["'@x", "y", "y"] and once["c"].dtype == "category"
    assert once["o"].tolist()[:2] == [1, "'-1"]
    pd.testing.assert_frame_equal(neutralise_formulas(once), once)


def test_csv_extract_has_one_header_and_a_true_hash() -> None:
    batches = [
        pd.DataFrame({"id": ["001", "002"], "v": [1, -2]}),
        pd.DataFrame({"id": ["003"], "v": [3]}),
    ]
    out = io.BytesIO()
    rows, digest = write_extract(batches, out, "csv")
    data = out.getvalue()
    assert rows == 3 and digest == hashlib.sha256(data).hexdigest()
    assert data.decode("utf-8").splitlines() == ['"id","v"', '"001",1', '"002",-2', '"003",3']
    back = read_table(io.BytesIO(data), fmt="csv")
    assert back["id"].tolist() == ["001", "002", "003"] and back["v"].tolist() == [1, -2, 3]


def test_csv_extract_neutralises_cells_and_headers() -> None:
    out = io.BytesIO()
    write_extract([pd.DataFrame({"=h": ["=1+1"], "n": [-5]})], out, "csv")
    assert out.getvalue().decode().splitlines() == ['"\'=h","n"', '"\'=1+1",-5']


def test_chinese_csv_extract_is_utf8_with_optional_bom() -> None:
    stream = iter_extract_bytes([pd.DataFrame({"姓名": ["张三"]})], "csv", bom=True)
    data = b"".join(stream)
    assert data.startswith(b"\xef\xbb\xbf") and "张三".encode() in data
    assert stream.done and stream.rows == 1 and stream.size == len(data)
    assert stream.sha256 == hashlib.sha256(data).hexdigest()


def test_parquet_extract_streams_one_row_group_per_batch() -> None:
    batches = [
        pd.DataFrame(
            {
                "id": [f"{i:04d}" for i in range(s, s + 50)],
                "n": pd.array([None if i == 120 else i for i in range(s, s + 50)], dtype="Int64"),
            }
        )
        for s in (0, 50, 100)
    ]
    stream = iter_extract_bytes(iter(batches), "parquet")
    pieces = list(stream)
    assert len(pieces) >= 3 and stream.rows == 150
    data = b"".join(pieces)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 3
    back = read_table(io.BytesIO(data), fmt="parquet")
    pd.testing.assert_frame_equal(back, pd.concat(batches, ignore_index=True))


def test_parquet_cells_are_not_rewritten() -> None:
    out = io.BytesIO()
    write_extract([pd.DataFrame({"s": ["=1"]})], out, "parquet")
    assert read_table(io.BytesIO(out.getvalue()), fmt="parquet")["s"].tolist() == ["=1"]


def test_an_all_missing_first_batch_does_not_fix_the_type_to_null() -> None:
    batches = [pd.DataFrame({"s": [None, None]}), pd.DataFrame({"s": ["a"]})]
    out = io.BytesIO()
    assert write_extract(batches, out, "parquet").rows == 3


def test_a_batch_that_does_not_fit_names_the_column_not_the_value() -> None:
    marker = "SECRET440301199001011234"
    batches = [pd.DataFrame({"n": [1]}), pd.DataFrame({"n": [marker]})]
    with pytest.raises(ValueError, match="column 'n' does not fit") as info:
        write_extract(batches, io.BytesIO(), "csv")
    assert marker not in str(info.value)
    with pytest.raises(ValueError, match="other columns"):
        write_extract([pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [1]})], io.BytesIO(), "csv")


def test_no_batches_write_nothing() -> None:
    out = io.BytesIO()
    assert write_extract([], out, "csv") == (0, hashlib.sha256(b"").hexdigest())
    assert out.getvalue() == b""
