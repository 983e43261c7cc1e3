"""Hostile and careless uploads: decompression bombs, wide files, foreign encodings and
delimiters, formulas in column names. Each is refused quickly or read as meant."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.settings import Settings
from tests.exchange.conftest import upload
from tests.exchange.flows import paid_lease, publish
from tests.exchange.servers import ServeProcess

# The in-process exchange of this module has small limits, so each is cheap to pass.
LIMITS = {"max_rows": 5_000, "max_columns": 50, "max_decoded_bytes": 20 << 20}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_upload_bytes=5_000_000, **LIMITS)


def dictionary_bomb(rows: int, width: int) -> bytes:
    """A Parquet file of one text column: the same ``width``-byte string on every row,
    dictionary-encoded and compressed, so it is a few hundred bytes on disk."""
    column = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * width])
    )
    out = io.BytesIO()
    # Without the stored Arrow schema, the column reads as plain text, as an attacker's would.
    pq.write_table(pa.table({"note": column}), out, compression="zstd", store_schema=False)
    return out.getvalue()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, str]]:
    """A real server with the default limits, and a provider's key."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "data").mkdir()
    process = ServeProcess(root / "data", root / "server.log")
    key = process.create_account("provider", "bureau", "深圳市交通运输局")["api_key"]
    with process:
        yield process, key


def post_file(
    server: ServeProcess, key: str, data: bytes, filename: str, **fields: str
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    with server.client(key) as client:
        response = client.post(
            "/v1/datasets",
            files={"file": (filename, io.BytesIO(data), "application/octet-stream")},
            data={"name": "hostile", **fields},
        )
    return response, time.monotonic() - started


def test_parquet_bomb_is_refused_in_seconds_with_server_memory_bounded(server) -> None:
    process, key = server
    warm = pa.table({"note": ["a", "b"] * 50})
    out = io.BytesIO()
    pq.write_table(warm, out)
    response, _ = post_file(process, key, out.getvalue(), "warm.parquet")
    assert response.status_code == 201, response.text
    bomb = dictionary_bomb(rows=16_500, width=64 * 1024)  # 1 GiB of text once decoded
    assert len(bomb) < 4096
    before = peak_rss_mb(process.proc.pid)
    response, seconds = post_file(process, key, bomb, "bomb.parquet")
    growth = peak_rss_mb(process.proc.pid) - before
    assert response.status_code == 413, response.text
    assert "DATALEASE_MAX_DECODED_BYTES" in response.json()["error"]["message"]
    assert seconds < 5
    assert growth < 200, f"server peak memory grew by {growth:.0f} MB"


def test_wide_csv_is_refused_in_seconds_naming_the_column_limit(server) -> None:
    process, key = server
    header = ",".join(f"c{i}" for i in range(10_000))
    row = ",".join("v" for _ in range(10_000))
    data = "\n".join([header] + [row] * 20).encode() + b"\n"
    response, seconds = post_file(process, key, data, "wide.csv")
    assert response.status_code == 422, response.text
    assert "10000 columns, above the limit of 1000" in response.json()["error"]["message"]
    assert seconds < 5


@pytest.mark.parametrize(
    ("rows", "width", "status", "problem"),
    [
        (2_000, 16 * 1024, 413, "DATALEASE_MAX_DECODED_BYTES"),  # 32 MB of text
        (10, 512 * 1024, 422, "per cell (DATALEASE_MAX_CELL_BYTES)"),
        (6_000, 8, 413, "more than 5000 rows"),
    ],
)
def test_parquet_beyond_a_limit_is_refused_and_nothing_stays(
    world, rows: int, width: int, status: int, problem: str
) -> None:
    response = upload(world, dictionary_bomb(rows, width), filename="x.parquet")
    assert response.status_code == status, response.text
    assert problem in response.json()["error"]["message"]
    root = world.exchange.settings.resolved_storage_dir
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_csv_beyond_the_row_limit_is_a_413(world) -> None:
    data = b"district\n" + b"futian\n" * 6_000
    response = upload(world, data)
    assert response.status_code == 413
    assert "more than 5000 rows" in response.json()["error"]["message"]


def test_csv_at_the_column_limit_is_read_and_one_more_is_refused(world) -> None:
    def wide(columns: int) -> bytes:
        frame = pd.DataFrame({f"c{i}": ["a", "b", "c"] * 4 for i in range(columns)})
        return frame.to_csv(index=False).encode()

    assert upload(world, wide(50)).status_code == 201
    response = upload(world, wide(51))
    assert response.status_code == 422
    assert "51 columns, above the limit of 50" in response.json()["error"]["message"]


def adult_like(rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "sex": rng.choice(["Male", "Female"], rows),
            "age": rng.integers(17, 90, rows).astype(str),
            "race": rng.choice(["White", "Black", "Asian-Pac-Islander"], rows),
            "marital-status": rng.choice(["Never-married", "Divorced"], rows),
            "education": rng.choice(["Bachelors", "HS-grad", "Some-college"], rows),
            "native-country": rng.choice(["United-States", "Mexico"], rows),
            "workclass": rng.choice(["Private", "State-gov"], rows),
            "occupation": rng.choice(["Sales", "Tech-support"], rows),
            "salary-class": rng.choice(["<=50K", ">50K"], rows),
        }
    )


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_csv_with_another_delimiter_is_split_into_its_columns(world, sep: str, name: str) -> None:
    frame = adult_like()
    response = upload(world, frame.to_csv(index=False, sep=sep).encode(), filename="adult.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["delimiter"] == sep
    assert [c["name"] for c in body["columns"]] == list(frame.columns)
    assert body["rows"] == len(frame)


def test_explicit_delimiter_overrides_detection(world) -> None:
    # Every line has one comma and one semicolon: detection takes the comma, the field says ';'.
    data = b"a,b;c\n1,2;3\n4,5;6\n"
    detected = upload(world, data).json()
    assert [c["name"] for c in detected["columns"]] == ["a", "b;c"]
    response = world.call(
        "provider",
        "POST",
        "/v1/datasets",
        files={"file": ("x.csv", io.BytesIO(data), "text/csv")},
        data={"name": "x", "delimiter": "semicolon"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["delimiter"] == ";"
    assert [c["name"] for c in response.json()["columns"]] == ["a,b", "c"]


TAIPEI = pd.DataFrame(
    {
        "姓名": ["陳大文", "林小美", "王建國"] * 20,
        "地址": ["臺北市信義區市府路1號", "新北市板橋區中山路一段", "高雄市苓雅區四維三路"] * 20,
        "區": ["信義區", "板橋區", "苓雅區"] * 20,
    }
)
TOKYO = pd.DataFrame(
    {
        "氏名": ["山田太郎", "佐藤花子", "鈴木一郎"] * 20,
        "住所": ["東京都新宿区西新宿二丁目", "大阪府大阪市北区", "愛知県名古屋市中区"] * 20,
        "区": ["新宿区", "北区", "中区"] * 20,
    }
)


@pytest.mark.parametrize(
    ("frame", "encoding", "detected"),
    [(TAIPEI, "big5", "big5"), (TOKYO, "shift_jis", "cp932")],
)
def test_big5_and_shift_jis_csvs_are_decoded_as_themselves_not_as_gb18030(
    world, frame: pd.DataFrame, encoding: str, detected: str
) -> None:
    response = upload(world, frame.to_csv(index=False).encode(encoding))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["encoding"] == detected
    assert [c["name"] for c in body["columns"]] == list(frame.columns)
    district = frame.columns[2]
    policy = {"k": 2, "columns": {district: {"class": "quasi_identifier", "rule": "keep"}}}
    url = f"/v1/datasets/{body['id']}"
    assert world.call("provider", "PUT", f"{url}/policy", json=policy).status_code == 200
    preview = world.call("provider", "GET", f"{url}/preview").json()
    assert {row[district] for row in preview["rows"]} <= set(frame[district])


def test_text_in_no_encoding_tried_is_refused_naming_them(world) -> None:
    data = b"name,note\n" + bytes(range(0x80, 0x100)) * 8 + b"\n"
    response = upload(world, data)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "encodings tried (UTF-8, GB18030, BIG5, CP932" in message


def test_explicit_encoding_is_used_and_a_wrong_one_is_a_clear_422(world) -> None:
    data = TAIPEI.to_csv(index=False).encode("big5")
    fields = {"name": "x", "encoding": "utf-8"}
    files = {"file": ("x.csv", io.BytesIO(data), "text/csv")}
    wrong = world.call("provider", "POST", "/v1/datasets", files=files, data=fields)
    assert wrong.status_code == 422
    assert "not valid UTF-8 text" in wrong.json()["error"]["message"]
    files = {"file": ("x.csv", io.BytesIO(data), "text/csv")}
    unknown = world.call(
        "provider", "POST", "/v1/datasets", files=files, data={**fields, "encoding": "klingon"}
    )
    assert unknown.status_code == 422
    assert "form field 'encoding'" in unknown.json()["error"]["message"]
    files = {"file": ("x.csv", io.BytesIO(data), "text/csv")}
    right = world.call(
        "provider", "POST", "/v1/datasets", files=files, data={**fields, "encoding": "big5"}
    )
    assert right.status_code == 201, right.text
    assert right.json()["encoding"] == "big5"


def test_formula_in_a_column_name_is_neutralised_in_the_buyers_csv(world, citizens_small) -> None:
    evil = "=cmd|' /C calc'!A0"
    frame = citizens_small.head(300)[["district", "household_size"]].copy()
    frame[evil] = frame["district"]
    policy = {
        "k": 1,
        "columns": {
            evil: {"class": "attribute", "rule": "keep"},
            "household_size": {"class": "attribute", "rule": "keep"},
        },
    }
    _, offer_id = publish(world, frame, policy=policy, k=1)
    paid = paid_lease(world, offer_id, epsilon=0.0)
    response = world.call("buyer", "GET", f"/v1/leases/{paid['id']}/extract?format=csv")
    assert response.status_code == 200, response.text
    header = response.text.splitlines()[0]
    assert not header.startswith("=") and ",=" not in header
    assert f"'{evil}" in header
