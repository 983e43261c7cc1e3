"""``datalease serve`` and ``datalease`` as child processes for the demo, benches and tests.

It lives outside the service package: the service never starts itself this way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """A ``datalease serve`` process on a free loopback port, logging to a file.

    The log goes to a file, not a pipe, so a chatty server never blocks on a full pipe;
    failures quote its tail.
    """

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        *,
        database_url: str | None = None,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        serve_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.database_url = database_url
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.serve_args = serve_args  # more `datalease serve` options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DATALEASE_DATA_DIR": str(self.data_dir), "PYTHONPATH": str(REPO)}
        env.pop("DATALEASE_DATABASE_URL", None)
        if self.database_url:
            env["DATALEASE_DATABASE_URL"] = self.database_url
        return {**env, **self.extra_env}

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def start(self, timeout: float = 60) -> ServeProcess:
        command = [sys.executable, "-m", "exchange.cli", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers), *self.serve_args]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=self.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
            if self._workers_ready(offset):
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_tail()}")

    def _workers_ready(self, offset: int) -> bool:
        """Every worker process has finished its startup (one line each in this run's log)."""
        with self.log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().count(b"Application startup complete") >= self.workers

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a process manager would send, and the exit status."""
        if self.proc is None:
            raise RuntimeError("the server was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(f"SIGTERM did not stop the server:\n{self.log_tail()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``datalease ARGS`` against the same data dir and database."""
        done = subprocess.run(
            [sys.executable, "-m", "exchange.cli", *args],
            env=self.env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"datalease {' '.join(args)} -> {done.returncode}:\n{done.stderr}")
        return done

    def create_account(self, role: str, name: str, organisation: str = "") -> dict[str, Any]:
        out = self.cli(
            "accounts", "create", "--role", role, "--name", name, "--organisation", organisation
        )
        return json.loads(out.stdout)

    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            finally:
                self.kill()
