"""apply_batches: the streaming engine over any batch source and an open sink."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq

from desensitize import Keyring, ParquetSource, apply, apply_batches, apply_stream
from examples.generate_city_data import generate

POLICY = {
    "k": 4,
    "columns": {
        "name": {"class": "identifier", "rule": "token"},
        "mobile": {"class": "identifier", "rule": "mask", "preset": "cn_mobile"},
        "birth_date": {"class": "quasi_identifier", "rule": "generalize", "to": "year"},
        "district": {"class": "quasi_identifier", "rule": "keep"},
        "monthly_income": {
            "class": "sensitive",
            "rule": "noise",
            "epsilon": 1.0,
            "bounds": [0, 100000],
        },
    },
}


def test_batches_from_an_open_file_give_the_same_rows_as_the_path_and_memory_engines(tmp_path):
    frame = generate("citizens", 3000, seed=11)
    path = tmp_path / "in.parquet"
    frame.to_parquet(path, index=False)
    data = path.read_bytes()
    keys = Keyring(b"k" * 32)

    sink = io.BytesIO()
    report = apply_batches(
        ParquetSource(lambda: io.BytesIO(data)), sink, POLICY, keys, batch_rows=700
    )
    from_batches = pq.read_table(io.BytesIO(sink.getvalue())).to_pandas()
    apply_stream(path, tmp_path / "out.parquet", POLICY, keys, batch_rows=700)
    from_path = pd.read_parquet(tmp_path / "out.parquet")
    in_memory = apply(frame, POLICY, keys).frame.reset_index(drop=True)

    pd.testing.assert_frame_equal(from_batches, from_path)
    pd.testing.assert_frame_equal(from_batches.astype(str), in_memory.astype(str))
    assert report.rows_out == len(from_batches)
    assert from_batches.groupby(["birth_date", "district"]).size().min() >= 4


def test_csv_sink_writes_one_header(tmp_path):
    frame = generate("citizens", 500, seed=2)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    sink = io.BytesIO()
    apply_batches(
        ParquetSource(lambda: io.BytesIO(data)),
        sink,
        POLICY,
        b"s" * 32,
        sink_format="csv",
        batch_rows=128,
    )
    lines = sink.getvalue().decode().splitlines()
    assert sum(line.startswith('"name"') for line in lines) == 1
