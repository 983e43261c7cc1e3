"""The public API: re-exported names, and a pure library that needs no service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import contracts
from contracts import ContractError

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_is_exported_and_exists() -> None:
    assert len(contracts.__all__) == len(set(contracts.__all__))
    assert all(hasattr(contracts, name) for name in contracts.__all__)
    for name in ("MerkleTree", "Ledger", "verify_export", "split", "quote", "decide", "to_odrl"):
        assert name in contracts.__all__


def test_every_error_derives_from_contract_error() -> None:
    errors = [getattr(contracts, n) for n in contracts.__all__ if n[0].isupper()]
    errors = [e for e in errors if isinstance(e, type) and issubclass(e, Exception)]
    assert len(errors) >= 10 and all(issubclass(e, ContractError) for e in errors)


def test_importing_contracts_loads_neither_the_exchange_nor_desensitize() -> None:
    code = (
        "import sys, contracts; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('exchange', 'desensitize', 'fastapi', 'sqlalchemy', 'pandas')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
