"""The public names each package promises, and the commands the README shows, exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["contracts", "desensitize", "desensitize.dp"])
def test_every_name_in_all_is_importable(package):
    module = importlib.import_module(package)
    assert module.__all__
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing


def test_pure_packages_do_not_import_the_service_or_each_other():
    for package, forbidden in (
        ("contracts", ("exchange", "desensitize")),
        ("desensitize", ("exchange", "contracts")),
    ):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in forbidden:
                assert not re.search(rf"^\s*(from|import) {name}\b", text, re.M), path


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"datalease ([a-z][a-z-]+)", readme))
    assert {"demo", "serve", "generate", "verify-ledger", "accounts"} <= used
    for command in used:
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_readme_keeps_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"```bash\n(.+?)\n```", setup, re.S)) == 2
