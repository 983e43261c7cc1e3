"""``datalease demo``: the whole exchange over HTTP on a fresh SQLite data directory.

Starts a real uvicorn server in a child process, generates smart-city data, and walks
the story as provider, buyer and auditor, printing what each of them sees.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

console = Console()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``datalease serve`` child process on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"
        self.env_overrides: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATALEASE_DATA_DIR": str(self.data_dir), **self.env_overrides}

    def start(self) -> None:
        # Logs go to a file: a pipe nobody reads would block the server once it fills.
        self.log_path = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.cli", "serve", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server exited early:\n{tail}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def create_account(self, role: str, name: str, organisation: str) -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "exchange.cli",
                "accounts",
                "create",
                "--role",
                role,
                "--name",
                name,
                "--organisation",
                organisation,
            ],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout)["api_key"]


class Actor:
    def __init__(self, base: str, key: str, label: str) -> None:
        self.client = httpx.Client(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        )
        self.label = label

    def __call__(
        self, method: str, url: str, expect: int | tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> Any:
        response = self.client.request(method, url, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise RuntimeError(
                f"{self.label} {method} {url} -> {response.status_code}: {response.text[:500]}"
            )
        kind = response.headers.get("content-type", "")
        return response.json() if kind.startswith("application/json") else response


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
    server = Server(Path(data_dir))
    try:
        return _story(server, rows)
    finally:
        server.stop()
        if tmp is not None:
            tmp.cleanup()


def _story(server: Server, rows: int) -> int:
    from exchange.demo_story import walk

    with console.status("starting the exchange (SQLite, local files)…"):
        server.start()
    say("exchange running", f"{server.url}  data dir: {server.data_dir}")
    return walk(server, rows)
