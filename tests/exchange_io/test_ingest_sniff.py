"""Format and encoding detection of uploads."""

from __future__ import annotations

import os

import pytest

from exchange.ingest import (
    UploadError,
    check_delimiter,
    check_text_encoding,
    detect_delimiter,
    detect_encoding,
    detect_format,
)

CHINESE_CSV = "姓名,手机号,住址\n张三,13800138000,深圳市南山区科技园\n"
GB18030_ONLY = "姓名\n𠀀𪚥\n"  # CJK Extension B: four-byte GB18030, absent from GBK


def test_parquet_is_recognised_by_its_magic_not_its_name() -> None:
    assert detect_format("upload.bin", b"PAR1\x15\x04") == "parquet"
    assert detect_format("data.csv", b"a,b\n1,2\n") == "csv"
    assert detect_format("data.txt", b"a,b\n") == "csv"


@pytest.mark.parametrize(
    ("filename", "head", "problem"),
    [
        ("x.parquet", b"a,b\n", "named .parquet but is not a Parquet file"),
        ("x.xlsx", b"PK\x03\x04rest", "spreadsheet and zip files are not accepted"),
        ("x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1", "spreadsheet and zip files are not accepted"),
    ],
)
def test_files_that_are_not_csv_or_parquet_are_refused(
    filename: str, head: bytes, problem: str
) -> None:
    with pytest.raises(UploadError, match=problem):
        detect_format(filename, head)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"a,b\n1,2\n", "utf-8"),
        (CHINESE_CSV.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CHINESE_CSV.encode("utf-8"), "utf-8-sig"),
        (CHINESE_CSV.encode("gbk"), "gb18030"),
        (GB18030_ONLY.encode("gb18030"), "gb18030"),
        (b"", "utf-8"),
    ],
)
def test_utf8_and_gbk_text_are_recognised(sample: bytes, expected: str) -> None:
    assert detect_encoding(sample) == expected


@pytest.mark.parametrize("cut", [1, 2])
def test_utf8_sample_cut_inside_a_character_is_still_utf8(cut: int) -> None:
    data = ("名,值\n" + "深圳" * 100).encode("utf-8")
    assert detect_encoding(data[:-cut]) == "utf-8"  # each of these characters is 3 bytes


def test_gbk_sample_cut_inside_a_character_is_still_gb18030() -> None:
    data = CHINESE_CSV.encode("gbk")
    assert detect_encoding(data[: data.index(b"\n") + 2]) == "gb18030"
    assert detect_encoding(GB18030_ONLY.encode("gb18030")[:-2]) == "gb18030"


@pytest.mark.parametrize(
    ("sample", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
        (bytes(range(0x80, 0x100)) * 4, r"encodings tried \(UTF-8, GB18030, BIG5"),
        (b"\xff\xfea\x00,\x00", "UTF-16"),
    ],
)
def test_binary_or_unsupported_text_is_refused(sample: bytes, problem: str) -> None:
    with pytest.raises(UploadError, match=problem):
        detect_encoding(sample)


def test_random_bytes_are_refused() -> None:
    with pytest.raises(UploadError):
        detect_encoding(os.urandom(4096) + b"\x00")


TAIPEI_CSV = "姓名,電話,地址\n" + "".join(
    f"陳大文{i},0912345678,臺北市信義區市府路{i}號\n" for i in range(9)
)
TOKYO_CSV = "氏名,電話,住所\n" + "".join(
    f"山田太郎{i},090-1234-5678,東京都新宿区{i}丁目\n" for i in range(9)
)


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        (TAIPEI_CSV, "big5", "big5"),
        (TOKYO_CSV, "shift_jis", "cp932"),
        (TOKYO_CSV, "euc_jp", "euc_jp"),
        ("nom;ville\nZoé;Montréal\nÉlodie;Liège\n", "cp1252", "cp1252"),
    ],
)
def test_other_east_asian_and_western_encodings_are_not_taken_for_gb18030(
    text: str, encoding: str, expected: str
) -> None:
    assert detect_encoding(text.encode(encoding), complete=True) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("GBK", "gbk"), ("utf8", "utf-8"), ("Big5", "big5"), ("shift-jis", "shift_jis")],
)
def test_encoding_named_by_the_uploader_is_checked(name: str, expected: str) -> None:
    assert check_text_encoding(name) == expected


@pytest.mark.parametrize(("name", "problem"), [("utf-16", "ASCII-compatible"), ("nope", "known")])
def test_encodings_csv_cannot_be_read_in_are_refused(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_text_encoding(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sex;age;race\nMale;39;White\nFemale;50;Black\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('name,address\n"Li","Nanshan; Block 3"\n"Wu","Futian; Block 9"\n', ","),
        ("only\n1\n2\n", ","),
        ("a;b;c\n1;2;3\n4;5", ";"),  # the sample's last record is cut
    ],
)
def test_delimiter_is_the_one_that_splits_every_record_alike(text: str, expected: str) -> None:
    assert detect_delimiter(text, complete=False) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("Pipe", "|")]
)
def test_delimiter_named_by_the_uploader_is_checked(value: str, expected: str) -> None:
    assert check_delimiter(value) == expected
    with pytest.raises(ValueError, match="one of"):
        check_delimiter("x")
