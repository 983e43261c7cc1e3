"""Sample values shared by the contracts tests (imported by name, not a fixture file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import (
    Grade,
    LeaseRequest,
    Ledger,
    Licence,
    Purpose,
    Terms,
    Use,
    grant,
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


OFFER = Terms(
    allowed_purposes=frozenset({Purpose.TRAFFIC_PLANNING, Purpose.ACADEMIC_RESEARCH}),
    permitted_uses=frozenset({Use.READ, Use.AGGREGATE}),
    territories=frozenset({"CN-GD"}),
    max_period_days=90,
    max_downloads=5,
)


def request(**changes: object) -> LeaseRequest:
    fields: dict[str, object] = {
        "purpose": Purpose.TRAFFIC_PLANNING,
        "purpose_text": "bus network redesign, Futian district",
        "start": T0,
        "end": T0 + timedelta(days=30),
        "uses": frozenset({Use.READ}),
        "territory": "CN-GD-SZ",
        "downloads": 3,
    }
    fields.update(changes)
    return LeaseRequest(**fields)  # type: ignore[arg-type]


def licence_for(grade: Grade, **changes: object) -> Licence:
    return grant(
        grade,
        OFFER,
        request(**changes),
        uid="urn:datalease:lease:L1",
        assigner="urn:datalease:party:traffic-bureau",
        assignee="urn:datalease:party:acme",
        target="urn:datalease:dataset:bus-trips",
        provider_approved=grade is Grade.IMPORTANT,
    )
