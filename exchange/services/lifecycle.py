"""Lease states. Stored: requested, approved, rejected, paid, revoked. Derived from the
clock: a paid lease is ``active`` between its start and end and ``expired`` after."""

from __future__ import annotations

from datetime import datetime

from exchange.db.models import Lease
from exchange.errors import Conflict, Forbidden, Gone


def effective_status(lease: Lease, now: datetime) -> str:
    if lease.status == "paid":
        if now >= lease.ends_at:
            return "expired"
        if now >= lease.starts_at:
            return "active"
        return "paid"
    if lease.status in ("requested", "approved") and now >= lease.ends_at:
        return "expired"
    return lease.status


def require_active(lease: Lease, now: datetime) -> None:
    """Data flows only while a lease is active: 403 when revoked, 410 when over."""
    status = effective_status(lease, now)
    if status == "active":
        return
    if status == "revoked":
        raise Forbidden(
            f"lease {lease.id} was revoked; its data is no longer available", code="lease_revoked"
        )
    if status == "expired":
        raise Gone(
            f"lease {lease.id} ended at {lease.ends_at.isoformat()}; "
            "its data is no longer available",
            code="lease_expired",
        )
    if status == "paid":
        raise Conflict(
            f"lease {lease.id} starts at {lease.starts_at.isoformat()}; "
            "data is available from then",
            code="lease_not_started",
        )
    raise Conflict(
        f"lease {lease.id} is {status}; it must be approved and paid first", code="lease_not_paid"
    )
