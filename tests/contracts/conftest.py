"""Fixtures shared by the contracts tests."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import Ledger
from tests.contracts.contracts_samples import build_sample_ledger


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def ledger() -> Ledger:
    """Two leases paid and split, one refunded, with access records between them."""
    return build_sample_ledger()
