"""``datalease demo``: the whole exchange over HTTP on a fresh SQLite data directory.

Starts a real uvicorn server in a child process, generates smart-city data, and walks
the story as provider, buyer and auditor through :mod:`exchange.client`, printing what
each of them sees.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from examples.demo.show import console, say
from examples.demo.story import walk
from examples.serve_process import ServeProcess
from exchange.client import ApiError


def run_demo(rows: int = 5000, data_dir: Path | None = None) -> int:
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="datalease-demo-")
        data_dir = Path(tmp.name)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # The story has the provider approve its important-grade lease and lists offers at once:
    # the listing review, public disclosure and three-level approval chain need compliance
    # and authority accounts the demo does not create.
    server = ServeProcess(
        data_dir,
        data_dir / "server.log",
        extra_env={
            "DATALEASE_REVIEW_GRADES": "[]",
            "DATALEASE_APPROVAL_CHAINS": '{"important": ["data_officer"]}',
        },
    )
    try:
        with console.status("starting the exchange (SQLite, local files)…"):
            server.start()
        say("exchange running", f"{server.url}  data dir: {server.data_dir}")
        return walk(server, rows)
    except ApiError as exc:
        console.print(f"[red]{exc.method} {exc.path} → HTTP {exc.status} {exc.code}: {exc.message}")
        return 1
    finally:
        if server.proc is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()


__all__ = ["run_demo"]
