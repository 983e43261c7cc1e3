"""`datalease demo` tells its whole story through the client and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exchange.process import REPO


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
