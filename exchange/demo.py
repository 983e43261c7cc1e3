"""``datalease demo``: the whole exchange over HTTP on a fresh SQLite data directory.

Starts a real uvicorn server in a child process, generates smart-city data, and walks
the story as provider, buyer and auditor, printing what each of them sees.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from exchange.jobs.follow import request_following_jobs
from exchange.process import ServeProcess

console = Console()


class Actor:
    def __init__(self, base: str, key: str, label: str) -> None:
        self.client = httpx.Client(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        )
        self.label = label

    def __call__(
        self, method: str, url: str, expect: int | tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> Any:
        # an extract is made by a job: 202 until it is done, then the file
        response = request_following_jobs(self.client, method, url, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise RuntimeError(
                f"{self.label} {method} {url} -> {response.status_code}: {response.text[:500]}"
            )
        kind = response.headers.get("content-type", "")
        return response.json() if kind.startswith("application/json") else response


def fen(amount: int) -> str:
    return f"¥{amount // 100:,}.{amount % 100:02d}"


def say(title: str, body: str = "") -> None:
    console.print(
        Panel(body or "", title=f"[bold]{title}", expand=False)
        if body
        else f"\n[bold cyan]== {title}"
    )


def show_frame(frame: pd.DataFrame, title: str, rows: int = 5) -> None:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for _, row in frame.head(rows).iterrows():
        table.add_row(*[str(v) for v in row])
    console.print(table)


def run_demo(rows: int = 5000, data_dir: Path | None = None) -> int:
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="datalease-demo-")
        data_dir = Path(tmp.name)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ServeProcess(data_dir, data_dir / "server.log")
    try:
        return _story(server, rows)
    finally:
        if server.proc is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()


def _story(server: ServeProcess, rows: int) -> int:
    from exchange.demo_story import walk

    with console.status("starting the exchange (SQLite, local files)…"):
        server.start()
    say("exchange running", f"{server.url}  data dir: {server.data_dir}")
    return walk(server, rows)
