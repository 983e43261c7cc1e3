"""`datalease cluster-check` against a two-process LocalCluster, and a scheduler that is
not there."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from exchange.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as found:
        yield found.scheduler_address


def test_json_names_the_workers_and_the_same_release(scheduler: str, tmp_path: Path) -> None:
    got = runner.invoke(
        app, ["cluster-check", "--scheduler", scheduler, "--workdir", str(tmp_path), "--json"]
    )
    assert got.exit_code == 0, got.output
    found = json.loads(got.stdout)
    assert found["same_release"] is True and 0 < found["rows_out"] <= found["rows"]
    assert len(found["workers"]) == 2
    assert all(w["address"].startswith("tcp://") and w["threads"] == 1 for w in found["workers"])
    assert list(tmp_path.iterdir()) == []  # the check leaves nothing behind


def test_text_from_the_setting(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATALEASE_DASK_SCHEDULER", scheduler)
    monkeypatch.setenv("DATALEASE_DATA_DIR", str(tmp_path / "data"))
    got = runner.invoke(app, ["cluster-check"])
    assert got.exit_code == 0, got.output
    assert "same release" in got.stdout and "yes" in got.stdout
    assert got.stdout.count("tcp://127.0.0.1:") >= 3  # the scheduler and both workers
    assert (tmp_path / "data" / "cluster").is_dir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_one_line_and_exit_2() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    got = runner.invoke(app, ["cluster-check", "--scheduler", address, "--timeout", "0.5"])
    assert got.exit_code == 2
    assert got.stdout == ""
    assert got.stderr.startswith(f"error: cannot reach the scheduler {address}")
    assert len(got.stderr.strip().splitlines()) == 1 and "Traceback" not in got.stderr


def test_no_scheduler_configured_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATALEASE_DASK_SCHEDULER", raising=False)
    got = runner.invoke(app, ["cluster-check"])
    assert got.exit_code == 2
    assert "DATALEASE_DASK_SCHEDULER" in got.stderr
