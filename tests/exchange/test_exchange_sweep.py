"""Crash leftovers and local files: orphan blobs and temporary files are swept at startup; a
download counts only once its last chunk is sent; a new master key is announced with its
directory, which git ignores; ``verify-ledger`` exits 0 (verified), 1 (failed) or 2 (cannot
read) with a one-line error."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from exchange import cli
from exchange.context import Exchange
from exchange.db.models import Account, Lease, LedgerEntry
from exchange.errors import Forbidden
from exchange.main import create_app
from exchange.services import extracts
from exchange.services.sweep import sweep_store
from tests.exchange.flows import paid_lease, publish
from tests.exchange.servers import ServeProcess


def plant(exchange: Exchange) -> dict[str, str]:
    """What a killed process leaves: a finished blob with no row, a writer's temp file."""
    store = exchange.store
    orphan = "raw-ds_killedbeforecommit"
    with store.writer(orphan, store.new_data_key(), context=b"x") as writer:
        writer.write(b"a,b\n1,2\n" * 1000)
    temp = ".table-ds_killedmidway.k3x9_q2a.part"
    (store.root / temp).write_bytes(b"")
    foreign = "operator-notes.txt"  # not a kind of blob the exchange writes: left alone
    (store.root / foreign).write_text("kept")
    return {"orphan": orphan, "temp": temp, "foreign": foreign}


def test_the_sweep_removes_orphans_and_temp_files_and_keeps_what_rows_reference(
    world, citizens_small, caplog
):
    _, offer_id = publish(world, citizens_small.head(300))
    lease = paid_lease(world, offer_id)
    assert world.call("buyer", "GET", f"/v1/leases/{lease['id']}/extract").status_code == 200
    store = world.exchange.store
    referenced = set(store.blob_names())
    assert {n.split("-")[0] for n in referenced} == {"raw", "table", "release", "extract"}
    planted = plant(world.exchange)

    with caplog.at_level(logging.INFO, logger="datalease"):
        report = sweep_store(world.exchange)
    assert report.blobs == (planted["orphan"],)
    assert report.temp_files == (planted["temp"],)
    assert set(store.blob_names()) == referenced | {planted["foreign"]}
    assert store.temp_files() == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "1 orphan blob(s) and 1 temporary file(s)" in logged
    assert planted["orphan"] in logged and planted["temp"] in logged
    # everything that rows point to still reads
    assert world.call("buyer", "GET", f"/v1/leases/{lease['id']}/extract").status_code == 200


def test_app_startup_sweeps(settings):
    exchange = Exchange.open(settings)
    planted = plant(exchange)
    exchange.close()
    app = create_app(settings)
    try:
        store = app.state.exchange.store
        assert planted["orphan"] not in store.blob_names()
        assert store.temp_files() == []
    finally:
        app.state.exchange.close()


def test_no_sweep_while_another_process_has_the_store_open(settings, caplog):
    first = Exchange.open(settings)
    second = Exchange.open(settings)  # stands in for another worker, its upload in flight
    try:
        planted = plant(first)
        with caplog.at_level(logging.INFO, logger="datalease"):
            assert sweep_store(first).skipped
        assert "skipped" in caplog.text
        assert planted["orphan"] in first.store.blob_names()
        assert first.store.temp_files() == [planted["temp"]]
    finally:
        second.close()
    assert sweep_store(first).blobs == (planted["orphan"],)  # alone again
    first.close()


# -- a download counts when its last chunk is sent ---------------------------------------------


def started(world, offer_id: str) -> tuple[Account, Lease]:
    paid = paid_lease(world, offer_id)
    with world.exchange.sessions() as session:
        buyer = session.get(Account, world.ids["buyer"])
        lease = session.get(Lease, paid["id"])
        extracts.start_download(
            session, world.exchange, buyer, lease
        )  # the checks a download makes
        session.commit()
    return buyer, lease


def downloads(world, lease_id: str) -> tuple[int, int]:
    """(the lease's count, the log's extract_download records)"""
    with world.exchange.sessions() as session:
        count = session.get(Lease, lease_id).downloads
        logged = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.subject == lease_id, LedgerEntry.entry_type == "extract_download"
            )
        ).all()
    return count, len(logged)


def chunks() -> Iterator[bytes]:
    yield from (b"first,", b"second,", b"last\n")


def test_an_interrupted_download_uses_up_nothing(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    buyer, lease = started(world, offer_id)
    stream = extracts.counted(world.exchange, buyer, lease, chunks())
    assert [next(stream), next(stream)] == [b"first,", b"second,"]
    stream.close()  # the client went away before the last chunk
    assert downloads(world, lease.id) == (0, 0)

    stream = extracts.counted(world.exchange, buyer, lease, chunks())
    assert b"".join(stream) == b"first,second,last\n"
    assert downloads(world, lease.id) == (1, 1)
    # over HTTP: every completed download counts and the limit (3) still holds
    url = f"/v1/leases/{lease.id}/extract"
    assert [world.call("buyer", "GET", url).status_code for _ in range(3)] == [200, 200, 403]
    assert downloads(world, lease.id) == (3, 3)


def test_a_download_that_would_pass_the_limit_ends_without_its_last_chunk(world, citizens_small):
    _, offer_id = publish(world, citizens_small.head(300))
    buyer, lease = started(world, offer_id)
    racing = [extracts.counted(world.exchange, buyer, lease, chunks()) for _ in range(4)]
    sent = [next(stream) for stream in racing]  # four downloads started within the limit
    assert sent == [b"first,"] * 4
    finished = []
    for stream in racing:
        try:
            finished.append(b"".join(stream))
        except Forbidden as exc:
            assert exc.code == "download_limit"
    assert finished == [b"second,last\n"] * 3
    assert downloads(world, lease.id) == (3, 3)


def multipart(boundary: str, total_rows: int, pause: float) -> Iterator[bytes]:
    """A slow upload: the server is killed while it is still arriving."""
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ncitizens\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    yield b"citizen_id,district,household_size\n"
    for i in range(total_rows // 1000):
        yield b"".join(f"C{i:05d}{j:04d},Futian,{j % 5 + 1}\n".encode() for j in range(1000))
        time.sleep(pause)


@pytest.mark.skipif(not hasattr(os, "kill"), reason="needs signals")
def test_a_server_killed_mid_upload_leaves_nothing_after_a_restart(tmp_path):
    data, log = tmp_path / "data", tmp_path / "server.log"
    store = data / "store"
    with ServeProcess(data, log) as server:
        provider = server.create_account("provider", "p")
        boundary = "sweepboundary"
        headers = {
            "Authorization": f"Bearer {provider['api_key']}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }

        def send() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                httpx.post(
                    f"{server.url}/v1/datasets",
                    content=multipart(boundary, 400_000, 0.02),
                    headers=headers,
                    timeout=60,
                )

        uploading = threading.Thread(target=send, daemon=True)
        uploading.start()
        deadline = time.monotonic() + 30
        while not list(store.glob(".*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        leftovers = sorted(p.name for p in store.glob(".*.part"))
        assert leftovers, server.log_tail()
        server.kill()  # SIGKILL: no cleanup runs
        uploading.join(timeout=60)
    assert sorted(p.name for p in store.glob(".*.part")) == leftovers

    with ServeProcess(data, log):
        assert list(store.glob(".*.part")) == []
        assert not [p for p in store.iterdir() if p.name.startswith("raw-")]
    assert "startup sweep removed" in log.read_text()
    assert all(name in log.read_text() for name in leftovers)


# -- the data directory and the offline verifier's exit codes ---------------------------------


def test_a_new_master_key_is_announced_with_its_directory(settings, caplog):
    with caplog.at_level(logging.WARNING, logger="datalease"):
        Exchange.open(settings).close()
    assert str(settings.data_dir.resolve()) in caplog.text
    assert "out of version control" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="datalease"):
        Exchange.open(settings).close()  # the second run says nothing
    assert "master key" not in caplog.text


def test_the_default_data_directory_is_ignored_by_git():
    root = Path(__file__).resolve().parents[2]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "datalease-data/master.key"], cwd=root, check=False
    )
    assert ignored.returncode == 0


def verify(*args: str) -> Result:
    return CliRunner().invoke(cli.app, ["verify-ledger", *args])


@pytest.fixture
def ledger(world, tmp_path) -> tuple[Path, Path]:
    world.call("operator", "POST", "/v1/accounts", json={"name": "x", "role": "buyer"})
    export = tmp_path / "ledger.jsonl"
    export.write_text(world.call("auditor", "GET", "/v1/audit/export").text)
    pem = tmp_path / "ledger.pem"
    pem.write_text(world.client.get("/v1/ledger/public-key").json()["public_key_pem"])
    return export, pem


def test_verify_ledger_exits_0_when_the_export_verifies_and_1_when_tampered(ledger, tmp_path):
    export, pem = ledger
    assert verify(str(export), "--public-key", str(pem)).exit_code == 0
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(export.read_text().replace('"role":"buyer"', '"role":"operator"'))
    assert tampered.read_text() != export.read_text()
    result = verify(str(tampered), "--public-key", str(pem))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize(
    ("export", "key", "message"),
    [
        ("missing.jsonl", "ledger.pem", "error: cannot read the export: no file"),
        ("ledger.jsonl", "missing.pem", "error: cannot read the public key: no file"),
        ("ledger.jsonl", "not-a-key", "error: cannot read the public key not-a-key:"),
        ("ledger.jsonl", "ab" * 32 + "00", "error: cannot read the public key"),
    ],
)
def test_verify_ledger_that_cannot_read_says_so_in_one_line_and_exits_2(
    ledger, tmp_path, export, key, message
):
    key_arg = str(tmp_path / key) if key.endswith(".pem") else key
    result = verify(str(tmp_path / export), "--public-key", key_arg)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
