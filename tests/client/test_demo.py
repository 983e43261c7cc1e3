"""`datalease demo` tells its whole story through the client and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from examples.serve_process import REPO


@pytest.mark.slow
def test_the_demo_walks_every_step(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "demo", "--rows", "300", "--data-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in range(1, 9):
        assert f"{step}. " in done.stdout
    assert "charged once" in done.stdout
    assert "the right one" in done.stdout
    assert "download after revocation → HTTP 403" in done.stdout
    assert "offline verification of" in done.stdout and ": OK" in done.stdout
    assert "the guardian's view: their child's own" in done.stdout
    assert "have withdrawn their consent" in done.stdout  # the operating company's notice


def test_the_service_does_not_import_the_demo_or_the_server_helper():
    code = (
        "import sys; import exchange.main, exchange.cli, exchange.console; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'examples'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    assert not (REPO / "exchange" / "process.py").exists()
