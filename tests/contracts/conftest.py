"""Make ``import contracts`` mean the package, not this test folder.

pytest puts ``tests/`` on ``sys.path`` (rootdir conftest, no ``__init__.py``), where
``tests/contracts`` would be found first as an empty namespace package. Putting
the repository root in front restores the real package for every test after this.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path[:1]:
    sys.path.insert(0, _ROOT)
if getattr(sys.modules.get("contracts"), "__file__", "") is None:  # a namespace stand-in
    for _name in [n for n in sys.modules if n == "contracts" or n.startswith("contracts.")]:
        del sys.modules[_name]


import pytest  # noqa: E402  (after the sys.path fix above)
from contracts_samples import build_sample_ledger  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from contracts import Ledger  # noqa: E402


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def ledger() -> Ledger:
    """Two leases paid and split, one refunded, with access records between them."""
    return build_sample_ledger()
