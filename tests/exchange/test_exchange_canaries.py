"""Canaries: distinctive raw values planted in protected columns must never come back out.

A provider uploads citizens with planted values in every identifier and sensitive column,
then every endpoint is driven, including failing ones. No planted value may appear in a
response body or header, in a log record, in the database or in any file of the data dir.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.exchange.conftest import World, csv_bytes, database_cells, upload
from tests.exchange.flows import POLICY, offer_body

CANARIES = {
    "resident_id": "11010519491231002X",
    "mobile": "13912345678",
    "name": "测试金丝雀",
    "address": "广东省深圳市福田区金丝雀大道88号8栋808室",
    "email": "canary.leak@example.org",
    "citizen_id": "C987654321",
    "card_id": "SZT999888777",
}
INCOME = 31_415_926  # monthly_income is classified sensitive
PLANTED_ROWS = [0, 1, 2, 150]
# Fragments distinctive enough that seeing one means a raw value got out.
FRAGMENTS = ["金丝雀", "canary.leak", "SZT999888777", "C987654321"]


def needles() -> dict[str, list[bytes]]:
    """Every spelling a planted value could take on the way out."""
    out: dict[str, list[bytes]] = {}
    for label, value in [*CANARIES.items(), ("monthly_income", str(INCOME))] + [
        (f"fragment {f}", f) for f in FRAGMENTS
    ]:
        forms = {value.encode(), json.dumps(value).strip('"').encode()}
        out[label] = sorted(forms)
    return out


NEEDLES = needles()


def found_in(blob: bytes | str) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else blob
    return [label for label, forms in NEEDLES.items() if any(f in data for f in forms)]


class Watch:
    """Calls the API and remembers every response to scan it afterwards."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, who: str | None, method: str, url: str, expect: int | None = None, **kw):
        if who is None:
            response = self.world.client.request(method, url, **kw)
        else:
            response = self.world.call(who, method, url, **kw)
        self.seen.append((f"{who} {method} {url}", response))
        if expect is not None:
            assert response.status_code == expect, (method, url, response.text[:500])
        return response

    def leaks(self) -> list[str]:
        out = []
        for label, response in self.seen:
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            for where, blob in (("body", response.content), ("headers", headers)):
                out += [f"{label} {where}: {hit}" for hit in found_in(blob)]
        return out


def planted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    rows = [r for r in PLANTED_ROWS if r < len(frame)]
    for column, value in CANARIES.items():
        frame.loc[rows, column] = value
    frame.loc[rows, "monthly_income"] = INCOME
    return frame


def parquet_text(content: bytes) -> str:
    """Parquet pages may be compressed: decode them before looking for values."""
    table = pq.read_table(io.BytesIO(content))
    return table.to_pandas().astype(str).to_csv(index=False)


def database_leaks(world: World) -> list[str]:
    """Decode every row of every table: JSON is stored escaped, long text spans pages."""
    return [
        f"table {table}.{column}: {hit}"
        for table, column, cell in database_cells(world)
        for hit in found_in(cell)
    ]


def file_leaks(world: World) -> list[str]:
    root = world.exchange.settings.data_dir
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name.startswith("raw-") for p in files), [p.name for p in files]
    return [f"file {p.relative_to(root)}: {hit}" for p in files for hit in found_in(p.read_bytes())]


BAD_POLICIES = [
    {"columns": {"name": {"class": "sensitive", "rule": "noise", "epsilon": 1, "bounds": [0, 9]}}},
    {"columns": {"mobile": {"class": "identifier", "rule": "keep"}}},
    {"columns": {"address": {"class": "identifier", "rule": "mask", "preset": "no_such_preset"}}},
    {"columns": {"card_id": {"class": "identifier"}}},
    {"columns": {"no_such_column": {"class": "attribute", "rule": "keep"}}},
    {
        "columns": {
            "monthly_income": {
                "class": "sensitive",
                "rule": "noise",
                "epsilon": 1,
                "bounds": [100, 0],
            }
        }
    },
]

LATE_FAILING_POLICIES = [
    {"k": 1000, "columns": POLICY["columns"]},
    {"columns": {"resident_id": {"class": "quasi_identifier", "rule": "generalize", "to": "year"}}},
    {"columns": {"name": {"class": "quasi_identifier", "rule": "generalize", "to": "month"}}},
]

GOOD_QUERIES = [
    {"op": "count"},
    {"op": "sum", "column": "monthly_income", "bounds": [0, 100000]},
    {"op": "mean", "column": "monthly_income", "bounds": [0, 100000]},
    {"op": "histogram", "column": "household_size", "bins": 5, "range": [0, 10]},
    {"op": "group_count", "by": "district"},
    {"op": "group_sum", "by": "gender", "column": "monthly_income", "bounds": [0, 100000]},
]
# Queries that read an identifier, or group by a column the policy does not keep: refused.
PROTECTED_QUERIES = [
    *({"op": "group_count", "by": column} for column in CANARIES if column != "email"),
    {"op": "group_sum", "by": "card_id", "column": "monthly_income", "bounds": [0, 100000]},
    {"op": "group_count", "by": "birth_date"},  # generalized in the extract
    {"op": "count", "column": "name"},
]
BAD_QUERIES = [
    {"op": "sum", "column": "name", "bounds": [0, 1]},
    {"op": "histogram", "column": "resident_id", "bins": 3, "range": [0, 1]},
    {"op": "group_count", "by": "email"},  # dropped by the policy, so not leased
    {"op": "mean", "column": "mobile", "bounds": [0, 1]},
]


def bad_uploads(frame: pd.DataFrame) -> list[tuple[str, bytes]]:
    text = csv_bytes(frame.head(20))
    lines = text.split(b"\n")
    canary_row = canary_row_csv(frame)
    extra_field = b"\n".join([*lines[:5], canary_row + b",13912345678", *lines[5:]])
    open_quote = b"\n".join([*lines[:5], b'"' + canary_row, *lines[5:]])
    bad_bytes = b"\n".join([*lines[:5], canary_row + b"\xff\xfe", *lines[5:]])
    return [
        ("extra field", extra_field),
        ("open quote", open_quote),
        ("bad utf-8", bad_bytes),
    ]


def canary_row_csv(frame: pd.DataFrame) -> bytes:
    return ",".join(
        str(frame.loc[PLANTED_ROWS[0], c]) if c not in CANARIES else CANARIES[c]
        for c in frame.columns
    ).encode()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_planted_raw_values_never_leave_the_exchange(world, citizens_small, all_logs):
    frame = planted(citizens_small.head(300))
    api = Watch(world)
    logging.getLogger("canary.selftest").debug("logs are captured")
    assert "logs are captured" in all_logs.text

    # -- upload and dataset views ---------------------------------------------------------
    created = upload(world, frame, name="citizens with canaries")
    api.seen.append(("provider POST /v1/datasets", created))
    assert created.status_code == 201, created.text
    dataset_id = created.json()["id"]
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.head(50), preserve_index=False), parquet)
    as_parquet = upload(world, parquet.getvalue(), filename="citizens.parquet", name="pq")
    api.seen.append(("provider POST /v1/datasets (parquet)", as_parquet))
    assert as_parquet.status_code == 201, as_parquet.text
    for label, body in bad_uploads(frame):
        response = upload(world, body, name=f"bad {label}")
        api.seen.append((f"provider POST /v1/datasets ({label})", response))
        assert response.status_code == 422, (label, response.status_code, response.text)
    store = world.exchange.settings.resolved_storage_dir
    assert len(list(store.glob("raw-*"))) == 2, "a refused upload left its raw file behind"
    api("provider", "GET", "/v1/datasets", 200)
    api("provider", "GET", f"/v1/datasets/{dataset_id}", 200)
    api("auditor", "GET", f"/v1/datasets/{dataset_id}", 200)

    # -- policies: bad ones are refused without quoting data, then the real one ------------
    for bad in BAD_POLICIES:
        response = api("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=bad)
        assert response.status_code == 422, (bad, response.text)
    for late in LATE_FAILING_POLICIES:  # rules that fit the column's type but not its values
        response = api("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", json=late)
        assert response.status_code in (200, 422), (late, response.text)
        if response.status_code == 200:  # then applying it fails, without quoting a value
            response = api("provider", "GET", f"/v1/datasets/{dataset_id}/preview")
            assert response.status_code == 422, (late, response.text)
    api("provider", "PUT", f"/v1/datasets/{dataset_id}/policy", 200, json=POLICY)
    api("provider", "GET", f"/v1/datasets/{dataset_id}/preview?rows=200", 200)

    # -- offer, catalog, quote, lease, payment ----------------------------------------------
    offer = api("provider", "POST", "/v1/offers", 201, json=offer_body(dataset_id)).json()
    api("buyer", "GET", "/v1/catalog", 200)
    api("buyer", "GET", f"/v1/catalog/{offer['id']}", 200)
    api("buyer", "GET", f"/v1/offers/{offer['id']}", 200)
    request = {"offer_id": offer["id"], "purpose": "traffic-planning", "days": 30, "epsilon": 3.0}
    api("buyer", "POST", "/v1/quotes", 201, json=request)
    lease = api("buyer", "POST", "/v1/leases", 201, json=request).json()
    narrow = {**request, "columns": ["name", "mobile", "district"], "epsilon": 0.0}
    api("buyer", "POST", "/v1/quotes", 201, json=narrow)
    api("buyer", "POST", f"/v1/leases/{lease['id']}/pay", 200, headers={"Idempotency-Key": "p1"})
    api("buyer", "POST", f"/v1/leases/{lease['id']}/pay", 200, headers={"Idempotency-Key": "p1"})
    api("buyer", "POST", f"/v1/leases/{lease['id']}/pay", 409)

    # -- extracts and receipts --------------------------------------------------------------
    csv = api("buyer", "GET", f"/v1/leases/{lease['id']}/extract?format=csv", 200)
    extract = pd.read_csv(io.BytesIO(csv.content), dtype=str)
    assert len(extract) and "name" in extract.columns and "email" not in extract.columns
    parquet_extract = api("buyer", "GET", f"/v1/leases/{lease['id']}/extract?format=parquet", 200)
    decoded = parquet_text(parquet_extract.content)
    assert found_in(decoded) == [], "the Parquet extract holds raw values"
    for who in ("buyer", "provider", "auditor"):
        api(who, "GET", f"/v1/leases/{lease['id']}", 200)
        api(who, "GET", f"/v1/leases/{lease['id']}/receipts", 200)
        api(who, "GET", "/v1/leases", 200)

    # -- DP queries, good, over protected columns, and bad ----------------------------------
    url = f"/v1/leases/{lease['id']}/queries"
    for query in GOOD_QUERIES:
        api("buyer", "POST", url, 200, json={**query, "epsilon": 0.1})
    for query in PROTECTED_QUERIES:
        response = api("buyer", "POST", url, json={**query, "epsilon": 0.1})
        assert response.status_code == 422, (query, response.text)
    for query in BAD_QUERIES:
        response = api("buyer", "POST", url, json={**query, "epsilon": 0.1})
        assert response.status_code == 422, (query, response.text)

    # -- the auditor's and the public's views -----------------------------------------------
    for path in [
        "/v1/audit/head",
        "/v1/audit/entries?limit=1000",
        "/v1/audit/events?limit=5000",
        "/v1/audit/export",
        "/v1/audit/budgets",
        "/v1/audit/revenue",
        "/v1/audit/proofs/inclusion?index=0",
        "/v1/audit/proofs/consistency?old_size=1",
    ]:
        api("auditor", "GET", path, 200)
    api(None, "GET", f"/v1/transparency/{dataset_id}", 200)
    api(None, "GET", "/v1/ledger/public-key", 200)
    api("provider", "GET", "/v1/revenue", 200)

    # -- the end of the lease: refusals carry no data ---------------------------------------
    api("provider", "POST", f"/v1/leases/{lease['id']}/revoke", 200, json={"reason": "test"})
    api("buyer", "GET", f"/v1/leases/{lease['id']}/extract", 403)
    api("buyer", "POST", url, 403, json={"op": "count", "epsilon": 0.1})
    api("buyer2", "GET", f"/v1/leases/{lease['id']}/extract", 403)
    api("buyer", "GET", "/v1/leases/lse_missing/extract", 404)

    leaks = api.leaks()
    leaks += [f"log: {hit}" for hit in found_in(all_logs.text)]
    leaks += database_leaks(world)
    leaks += file_leaks(world)
    assert not leaks, "planted raw values got out:\n" + "\n".join(sorted(set(leaks)))


def test_the_canary_check_would_see_a_leak(world, citizens_small):
    """The scanner itself: a planted value in a body, in JSON escapes or in a file is caught."""
    assert found_in(json.dumps({"v": CANARIES["name"]})) == ["name", "fragment 金丝雀"]
    assert found_in(json.dumps({"v": CANARIES["name"]}, ensure_ascii=False))
    assert found_in(f"x{CANARIES['mobile']}y") == ["mobile"]
    frame = planted(citizens_small.head(10))
    assert found_in(parquet_text(_parquet_bytes(frame)))
    assert found_in(csv_bytes(frame))
    (world.exchange.settings.data_dir / "plain.txt").write_text(CANARIES["email"])
    upload(world, frame.head(5))  # so the raw store exists
    assert any("plain.txt" in leak for leak in file_leaks(world))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
    return out.getvalue()


def test_a_headerless_upload_does_not_turn_identifiers_into_column_names(world, citizens_small):
    """Without a header row the first record would become the column names, which every
    dataset, catalog and transparency view shows: a first line of identifiers is refused."""
    frame = planted(citizens_small.head(30))
    lines = csv_bytes(frame).split(b"\n")
    response = upload(world, b"\n".join([canary_row_csv(frame), *lines[2:]]), name="no header")
    echoed = found_in(response.content)
    assert not echoed, f"the first record became column names and came back: {echoed}"
    assert response.status_code == 422, response.text[:300]
