"""Sample values shared by the contracts tests (imported by name, not a fixture file)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import (
    Ledger,
    party_account,
    payment,
    provider_account,
    refund,
    split_from_escrow,
    subject_pool_account,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SHARES = {
    provider_account("traffic-bureau"): 7_000,
    party_account("district-data-center"): 1_500,
    "platform": 1_000,
    subject_pool_account("citizens"): 500,
}


def build_sample_ledger() -> Ledger:
    """Two leases paid and split, one refunded, with access records between them."""
    log = Ledger()
    log.append_transaction(payment("acme", 120_001, time=T0, lease_id="L1"))
    log.append_record("access", {"lease_id": "L1", "action": "request"}, time=T0)
    log.append_transaction(split_from_escrow(120_001, SHARES, time=T0, lease_id="L1"))
    log.append_record("desensitization_receipt", {"lease_id": "L1", "policy": "ab" * 32})
    log.append_transaction(payment("metro-lab", 40_000, time=T0, lease_id="L2"))
    log.append_transaction(refund("metro-lab", 40_000, time=T0, lease_id="L2"))
    log.append_record("access", {"lease_id": "L1", "action": "download", "rows": 5_000}, time=T0)
    return log
