"""Uploading datasets: formats, encodings, limits and clear errors with nothing left behind."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.exchange.conftest import csv_bytes, upload


def stored_files(world) -> list:
    root = world.exchange.settings.resolved_storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file())


def dataset_count(world) -> int:
    return len(world.call("auditor", "GET", "/v1/datasets").json())


def test_provider_uploads_a_utf8_csv_and_gets_a_profile(world, citizens_small):
    response = upload(world, citizens_small.head(300))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rows"] == 300
    assert body["encoding"].startswith("utf-8")
    kinds = {c["name"]: c for c in body["profile"]["columns"]}
    assert set(kinds) == set(citizens_small.columns)
    assert "columns" in body["profile"]["suggested_policy"]
    planned = body["profile"]["suggested_utility"]
    assert planned["rows"] == 300 and not planned["estimate"] and "levels" in planned


def test_gbk_csv_is_read_with_its_chinese_text_intact(world, citizens_small):
    frame = citizens_small.head(200)
    response = upload(world, csv_bytes(frame, "gbk"))
    assert response.status_code == 201, response.text
    assert response.json()["encoding"] in ("gb18030", "gbk")
    response = world.call(
        "provider",
        "PUT",
        f"/v1/datasets/{response.json()['id']}/policy",
        json={"k": 2, "columns": {"district": {"class": "quasi_identifier", "rule": "keep"}}},
    )
    assert response.status_code == 200, response.text
    preview = world.call("provider", "GET", f"/v1/datasets/{response.json()['id']}/preview").json()
    assert {row["district"] for row in preview["rows"]} <= set(frame["district"])


def test_parquet_upload_is_accepted(world, citizens_small):
    data = citizens_small.head(100).to_parquet(index=False)
    response = upload(world, data, filename="citizens.parquet")
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "parquet"


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "empty"),
        (b'name,mobile\n"unterminated,13800000000\nx,y\n', ""),
        (b"a,b\n1,2,3,4\n5,6\n", ""),
        (bytes(range(256)) * 50, ""),
    ],
)
def test_bad_files_get_a_clear_4xx_and_leave_nothing_behind(world, content, needle):
    before = stored_files(world)
    response = upload(world, content)
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["error"]["message"]
    assert needle in message
    assert stored_files(world) == before
    assert dataset_count(world) == 0


def test_oversized_upload_is_refused_with_413_and_nothing_stored(world, citizens_small):
    big = csv_bytes(pd.concat([citizens_small] * 20, ignore_index=True))
    assert len(big) > world.exchange.settings.max_upload_bytes
    response = upload(world, big)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    assert stored_files(world) == []
    assert dataset_count(world) == 0


def test_upload_without_a_file_field_says_what_to_send(world):
    response = world.call(
        "provider",
        "POST",
        "/v1/datasets",
        data={"name": "x"},
        files={"other": ("x.csv", io.BytesIO(b"a\n1\n"), "text/csv")},
    )
    assert response.status_code == 422
    assert "'file'" in response.json()["error"]["message"]


def test_missing_name_is_a_422_naming_the_field(world, citizens_small):
    response = world.call(
        "provider",
        "POST",
        "/v1/datasets",
        files={"file": ("c.csv", io.BytesIO(csv_bytes(citizens_small.head(5))), "text/csv")},
    )
    assert response.status_code == 422
    assert "name" in response.json()["error"]["message"]


def test_raw_bytes_on_disk_never_contain_the_plaintext(world, citizens_small):
    frame = citizens_small.head(50).copy()
    frame.loc[0, "mobile"] = "13912345678"
    response = upload(world, frame)
    assert response.status_code == 201
    files = stored_files(world)
    assert files
    for path in files:
        data = path.read_bytes()
        assert b"13912345678" not in data
        assert frame.loc[0, "resident_id"].encode() not in data


def test_buyers_cannot_upload(world, citizens_small):
    assert upload(world, citizens_small.head(5), who="buyer").status_code == 403


def test_requests_without_a_key_are_401(world):
    response = world.client.get("/v1/datasets")
    assert response.status_code == 401
    response = world.client.get("/v1/datasets", headers={"Authorization": "Bearer dl_nope"})
    assert response.status_code == 401


def test_operator_rotates_and_revokes_keys(world):
    buyer = world.ids["buyer"]
    listed = world.call("operator", "GET", "/v1/accounts").json()
    assert {a["id"] for a in listed} >= {buyer}
    assert all("api_key" not in a for a in listed)
    fresh = world.call("operator", "POST", f"/v1/accounts/{buyer}/keys").json()["api_key"]
    assert (
        world.client.get("/v1/me", headers={"Authorization": f"Bearer {fresh}"}).json()["id"]
        == buyer
    )
    assert world.call("operator", "POST", f"/v1/accounts/{buyer}/revoke-keys").status_code == 200
    for key in (fresh, world.keys["buyer"]):
        assert (
            world.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code
            == 401
        )
    assert world.call("provider", "GET", "/v1/accounts").status_code == 403


def test_out_of_range_log_positions_are_a_422_not_a_crash(world):
    for url in (
        "/v1/audit/entries?start=5321309009162327713382400",
        "/v1/audit/events?start=8623551310496463939811390089330688",
        "/v1/audit/proofs/inclusion?index=99999999999999999999999",
    ):
        assert world.call("auditor", "GET", url).status_code == 422
