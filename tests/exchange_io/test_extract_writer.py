"""CSV extracts: injection defence for cells and header names, and the CSV text itself."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pyarrow as pa

from exchange.extract_writer import csv_chunks, neutralise_array, neutralise_batch, neutralise_names

ATTACKS = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\tx", "\rx", "＝1+1"]


def test_formula_cells_in_text_columns_get_an_apostrophe() -> None:
    batch = pa.record_batch(
        {"cell": [*ATTACKS, "plain", None], "n": list(range(-5, len(ATTACKS) - 3))}
    )
    out = neutralise_batch(batch)
    assert out.column("cell").to_pylist()[: len(ATTACKS)] == ["'" + a for a in ATTACKS]
    assert out.column("cell").to_pylist()[-2:] == ["plain", None]
    assert out.column("n").equals(batch.column("n"))
    assert batch.column("cell")[0].as_py() == ATTACKS[0]  # the input is not changed


def test_numbers_dates_and_booleans_are_left_alone() -> None:
    for values in (
        pa.array([-5, 3]),
        pa.array([-1.5, 2.0]),
        pa.array([True, False]),
        pa.array([dt.datetime(2026, 11, 2), dt.datetime(2026, 11, 3)], pa.timestamp("ns")),
        pa.array(["plain", None]),
    ):
        assert neutralise_array(values) is values


def test_neutralising_is_idempotent_and_covers_large_and_dictionary_text() -> None:
    large = pa.array(["=1", "a", None], pa.large_string())
    coded = pa.array(["@x", "y", "y"]).dictionary_encode()
    once = [neutralise_array(large), neutralise_array(coded)]
    assert once[0].to_pylist() == ["'=1", "a", None] and once[0].type == pa.large_string()
    assert once[1].to_pylist() == ["'@x", "y", "y"] and pa.types.is_dictionary(once[1].type)
    assert all(neutralise_array(o) is o for o in once)


def test_header_names_are_neutralised_like_cells() -> None:
    assert neutralise_names([*ATTACKS, "plain", 3]) == [*("'" + a for a in ATTACKS), "plain", "3"]


def test_csv_reads_back_as_the_batches_with_formulas_neutralised() -> None:
    batch = pa.record_batch(
        {
            "=total": pa.array(["=1+1", 'say "hi", twice', None, "-x"]),
            "district": pa.array(["north", "south", "north", "@east"]).dictionary_encode(),
            "n": pa.array([-5, 1, None, 3]),
            "x": pa.array([1.5, -0.25, 2.0, None]),
            "when": pa.array(
                [dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4, 5, 120000), None, None],
                pa.timestamp("ns"),
            ),
        }
    )
    chunks = list(csv_chunks(batch.schema, [batch.slice(0, 2), batch.slice(2)]))
    text = b"".join(chunks).decode("utf-8")
    assert text.splitlines()[0] == '"\'=total","district","n","x","when"'
    back = pd.read_csv(io.StringIO(text))
    assert back["'=total"].tolist()[:2] == ["'=1+1", 'say "hi", twice']
    assert back["'=total"].iloc[3] == "'-x" and pd.isna(back["'=total"].iloc[2])
    assert back["district"].tolist() == ["north", "south", "north", "'@east"]
    assert back["n"].tolist()[:2] == [-5, 1] and back["x"].tolist()[:3] == [1.5, -0.25, 2.0]
    assert back["when"].tolist()[:2] == ["2026-01-02 00:00:00", "2026-01-02 03:04:05.12"]


def test_an_empty_extract_is_its_header() -> None:
    schema = pa.schema([("a", pa.string()), ("+b", pa.int64())])
    assert b"".join(csv_chunks(schema, [])) == b'"a","\'+b"\n'
