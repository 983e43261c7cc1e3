"""Reading CSV uploads: encodings, types, malformed files and safe error messages."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import pytest

from exchange.crypto import CryptoError, EncryptedStore, MasterKey
from exchange.ingest import UploadError, iter_batches, iter_tables, read_table

MARKER = "SECRET440301199001011234"


def read(data: bytes, **kwargs: object) -> pd.DataFrame:
    return read_table(io.BytesIO(data), fmt="csv", **kwargs)  # type: ignore[arg-type]


def upload_error(data: bytes, **kwargs: object) -> UploadError:
    with pytest.raises(UploadError) as info:
        read(data, **kwargs)
    return info.value


class NonSeekable(io.RawIOBase):
    """An upload arriving as a stream that can be read only once."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._inner.read(min(len(buffer), 7))  # short reads, as sockets give
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_chinese_csv_reads_in_every_accepted_encoding(encoding: str) -> None:
    text = "姓名,区,年龄\n张三,南山区,34\n李四,福田区,28\n"
    frame = read(text.encode(encoding))
    assert list(frame.columns) == ["姓名", "区", "年龄"]  # no BOM left on the first name
    assert frame["姓名"].tolist() == ["张三", "李四"]
    assert frame["年龄"].dtype == "int64"


def test_gb18030_only_characters_survive() -> None:
    frame = read("姓名,备注\n𠀀𪚥,€\n".encode("gb18030"))
    assert frame.iloc[0].tolist() == ["𠀀𪚥", "€"]


def test_explicit_encoding_is_used() -> None:
    assert read("名\n值\n".encode("gbk"), encoding="gbk").iloc[0, 0] == "值"


def test_identifier_digits_keep_leading_zeros_and_stay_text() -> None:
    frame = read(
        b"card,mobile,resident_id,zip,count,amount\n"
        b"0012,13800138000,440301199001011234,518000,3,-5\n"
        b"1234,13900139000,440301199001015678,518057,0,12\n"
    )
    assert frame["card"].tolist() == ["0012", "1234"]
    assert frame["mobile"].tolist() == ["13800138000", "13900139000"]
    assert frame["resident_id"].dtype == object
    assert frame["zip"].dtype == "int64" and frame["count"].dtype == "int64"
    assert frame["amount"].tolist() == [-5, 12]


def test_numbers_booleans_gaps_and_iso_datetimes_get_types() -> None:
    frame = read(
        b"n,x,flag,day,at,at_utc,not_a_date,note\n"
        b"1,1.5,true,2026-11-02,2026-11-02 08:30:00,2026-11-02T08:30:00Z,2026-02-30,a\n"
        b",2,FALSE,2026-11-03,2026-11-03T09:00:00.25,2026-11-03 09:00:00+08:00,2026-03-01,\n"
    )
    types = frame.dtypes.astype(str).to_dict()
    assert types == {
        "n": "Int64",
        "x": "float64",
        "flag": "bool",
        "day": "datetime64[ns]",
        "at": "datetime64[ns]",
        "at_utc": "datetime64[ns, UTC]",
        "not_a_date": "object",
        "note": "object",
    }
    assert frame["at_utc"].iloc[1] == pd.Timestamp("2026-11-03T01:00:00Z")
    assert pd.isna(frame["n"].iloc[1]) and pd.isna(frame["note"].iloc[1])


def test_quoted_values_may_hold_commas_quotes_and_newlines() -> None:
    frame = read(b'id,address\n1,"Road 1, ""North""\nFloor 2"\n2,plain\n')
    assert frame["address"].tolist() == ['Road 1, "North"\nFloor 2', "plain"]


def test_header_only_gives_an_empty_frame_with_the_columns() -> None:
    frame = read(b"id,name\n")
    assert list(frame.columns) == ["id", "name"] and len(frame) == 0
    batches = list(iter_batches(io.BytesIO(b"id,name\r\n"), fmt="csv"))
    assert len(batches) == 1 and list(batches[0].columns) == ["id", "name"]


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_empty_file_is_refused(data: bytes) -> None:
    assert upload_error(data).problem == "the file is empty"


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (b"id,name,age\n1,a,3\n2,b\n3,c,5\n", "line 3 has 2 fields but the header has 3", 3),
        (b"id,name\n1,a\n2,b\n3,c,extra\n", "line 4 has 3 fields but the header has 2", 4),
        (b'id,name\n1,a\n2,"b\n3,c\n', "line 3 has a malformed quoted field", 3),
        (b'id,note\n1,"x\ny"\n2,a,b\n', "line 4 has 3 fields", 4),  # counts physical lines
        (b"id,name\n1,a\n2,\xff\xfe\n", "line 3 is not valid UTF-8 text", 3),
        (b"id,id\n1,2\n", "columns 1 and 2 have the same name 'id'", 1),
        (b"id,,age\n1,2,3\n", "column 2 of the header has no name", 1),
        (b"1,13800138000,34\n2,13900139000,28\n", "the first line holds values", 1),
    ],
)
def test_malformed_csv_names_the_problem_and_line(data: bytes, problem: str, line: int) -> None:
    error = upload_error(data, encoding="utf-8")
    assert problem in error.problem and error.line == line


def test_bad_bytes_after_the_sniffed_part_are_reported_by_line() -> None:
    rows = b"".join(b"%d,name-%d\n" % (i, i) for i in range(1, 80_001))  # > 1 MiB of ASCII
    error = upload_error(b"id,name\n" + rows + "99,张三\n".encode("gbk"))
    assert error.problem == "line 80002 is not valid UTF-8 text" and error.line == 80_002


def test_stray_quotes_inside_unquoted_cells_are_text() -> None:
    frame = read(b'id,size\n1,5" screen\n2,7\n')  # an odd number of quotes
    assert frame["size"].tolist() == ['5" screen', "7"]


def test_binary_garbage_is_refused() -> None:
    garbage = bytes(range(256)) * 64 + os.urandom(4096)
    assert "binary" in upload_error(garbage).problem
    assert isinstance(upload_error(b"\x80\x81\xfe\xff" * 100), UploadError)


@pytest.mark.parametrize(
    "data",
    [
        f"id,name,age\n1,{MARKER},3\n2,{MARKER}\n".encode(),
        f'id,name\n1,"{MARKER}\n2,b\n'.encode(),
        f"id,name\n1,{MARKER}\xff\n".encode("latin-1"),
        f"{MARKER},1234\n{MARKER},5678\n".encode(),
        f"id,name\n1,{MARKER},x,y\n".encode(),
    ],
)
def test_error_messages_never_quote_cell_values(data: bytes) -> None:
    error = upload_error(data, encoding="utf-8")
    assert MARKER not in str(error) and MARKER[:10] not in repr(error)


def test_batches_share_dtypes_decided_over_the_whole_file() -> None:
    rows = [f"{i},{i},{i}" for i in range(1, 251)]
    rows[-1] = "0250,,250.5"  # a leading zero, a gap and a fraction, only in the last batch
    data = ("code,count,value\n" + "\n".join(rows) + "\n").encode()
    batches = list(iter_batches(io.BytesIO(data), fmt="csv", batch_rows=100))
    assert [len(b) for b in batches] == [100, 100, 50]
    for batch in batches:
        assert batch.dtypes.astype(str).tolist() == ["object", "Int64", "float64"]
    assert batches[-1]["code"].iloc[-1] == "0250"


def test_arrow_tables_are_the_batches_without_pandas_in_between() -> None:
    rows = [
        f"{i:04d},{i},{i / 4},{'true' if i % 3 else 'False'},2026-11-{1 + i % 28:02d} 08:30:0{i % 10}"
        f",2026-11-02T08:30:00.{i:03d}+08:00,{'' if i < 150 else '=x' + str(i)}"
        for i in range(1, 251)
    ]
    rows[160] = rows[160].replace(f",{161},", ",,", 1)  # a gap in a later batch only
    header = "code,count,value,flag,at,at_utc,late_text\n"
    data = (header + "\n".join(rows) + "\n").encode()
    frames = list(iter_batches(io.BytesIO(data), fmt="csv", batch_rows=100))
    tables = list(iter_tables(io.BytesIO(data), fmt="csv", batch_rows=100))
    assert len({t.schema for t in tables}) == 1
    for frame, table in zip(frames, tables, strict=True):
        pd.testing.assert_frame_equal(table.to_pandas(), frame)


def test_non_seekable_stream_is_read_in_one_pass() -> None:
    data = b"id,n\n" + b"".join(b"%d,%d\n" % (i, i * 2) for i in range(1, 300))
    batches = list(iter_batches(NonSeekable(data), fmt="csv", batch_rows=100))
    assert sum(len(b) for b in batches) == 299 and batches[2]["n"].dtype == "int64"


def test_non_seekable_stream_whose_later_rows_change_type_is_refused() -> None:
    data = b"id,n\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(1, 300)) + b"300,abc\n"
    with pytest.raises(UploadError, match="column 'n' has values that do not fit its type"):
        list(iter_batches(NonSeekable(data), fmt="csv", batch_rows=100))


def test_max_rows_reads_only_the_first_rows() -> None:
    data = b"id\n" + b"".join(b"%d\n" % i for i in range(1, 1001))
    assert read(data, max_rows=7)["id"].tolist() == list(range(1, 8))
    assert len(read(data, max_rows=0)) == 0


def test_pinned_dtypes_keep_a_preview_typed_like_the_whole_file() -> None:
    data = b"code,n\n1,1\n2,2\n"
    frame = read(data, max_rows=1, dtypes={"code": "object", "n": "Int64"})
    assert frame["code"].tolist() == ["1"] and str(frame["n"].dtype) == "Int64"


def test_reads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "up.csv"
    path.write_bytes("名,n\n甲,1\n".encode("gbk"))
    assert read_table(path, fmt="csv").iloc[0].tolist() == ["甲", 1]


def test_example_city_tables_read_back_with_their_types(tmp_path: Path) -> None:
    from examples.generate_city_data import write

    for encoding in ("utf-8", "gbk"):
        path = write("citizens", 300, tmp_path / f"citizens-{encoding}.csv", encoding=encoding)
        frame = read_table(path, fmt="csv")
        types = frame.dtypes.astype(str)
        for column in ("citizen_id", "resident_id", "mobile", "card_id", "name"):
            assert types[column] == "object", column
        assert types["household_size"] == "int64"
        assert types["birth_date"].startswith("datetime64")
        assert frame["mobile"].str.fullmatch(r"1\d{10}").all()


def test_upload_is_read_straight_from_the_encrypted_store(tmp_path: Path) -> None:
    store = EncryptedStore(tmp_path, MasterKey.generate(), chunk_size=4096)
    key = store.new_data_key()
    data = b"id,mobile\n" + b"".join(b"%d,138%08d\n" % (i, i) for i in range(5000))
    with store.writer("raw", key, context=b"ds") as w:
        w.write(data)
    with store.open_plaintext("raw", key, context=b"ds") as fh:
        batches = list(iter_batches(fh, fmt="csv", batch_rows=2000))
    assert sum(map(len, batches)) == 5000 and batches[0]["mobile"].iloc[1] == "13800000001"
    path = tmp_path / "raw"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 1
    path.write_bytes(bytes(raw))
    with (
        pytest.raises(CryptoError),
        store.open_plaintext("raw", key, context=b"ds") as fh,
    ):
        list(iter_batches(fh, fmt="csv"))
