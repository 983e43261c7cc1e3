"""The provider's own privacy allowance per dataset, apart from the budget buyers draw on.

The profile's noise bounds and rows-per-person bound are DP estimates: they reach buyers
as clamp values, so their epsilon is a real loss, but it is the provider's choice to use
them, not a buyer's. It is charged when the profile runs (at upload) to an allowance of
`Settings.provider_epsilon_allowance` per dataset, recorded and logged, and never drawn
from the dataset's lifetime budget.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.context import Exchange
from exchange.db.models import MICRO, AllowanceSpend, Dataset
from exchange.errors import Invalid


def spend_micro(epsilon: float) -> int:
    """Micro-epsilon of a spend, rounded up: an allowance is never under-counted."""
    return math.ceil(float(epsilon) * MICRO - 1e-9)


def charge_profile(session: Session, exchange: Exchange, dataset: Dataset, epsilon: float) -> None:
    """Open the dataset's provider allowance and charge the profile's DP estimates to it."""
    allowance = round(exchange.settings.provider_epsilon_allowance * MICRO)
    spent = spend_micro(epsilon)
    if spent > allowance:
        raise Invalid(
            f"the profile's DP estimates of noise bounds need epsilon={spent / MICRO:g}, "
            f"above the provider allowance of {allowance / MICRO:g} per dataset; "
            "upload fewer numeric columns at once"
        )
    dataset.provider_epsilon_cap_micro = allowance
    dataset.provider_epsilon_spent_micro = spent
    if not spent:
        return
    session.add(
        AllowanceSpend(
            dataset_id=dataset.id,
            provider_id=dataset.provider_id,
            kind="profile",
            epsilon_micro=spent,
            detail={"what": "DP estimates of noise bounds and rows per person"},
        )
    )
    exchange.log.record(
        session,
        "allowance_spent",
        actor=dataset.provider_id,
        dataset=dataset.id,
        spent_on="profile",
        epsilon=f"{spent / MICRO:g}",
        allowance=f"{allowance / MICRO:g}",
    )


def report(session: Session, dataset: Dataset) -> dict[str, Any]:
    """The allowance as the provider and auditors see it."""
    spends = session.scalars(
        select(AllowanceSpend)
        .where(AllowanceSpend.dataset_id == dataset.id)
        .order_by(AllowanceSpend.id)
    ).all()
    return {
        "epsilon_cap": dataset.provider_epsilon_cap_micro / MICRO,
        "epsilon_spent": dataset.provider_epsilon_spent_micro / MICRO,
        "spends": [
            {
                "kind": s.kind,
                "epsilon": s.epsilon_micro / MICRO,
                "time": s.created_at.isoformat(),
                **s.detail,
            }
            for s in spends
        ],
    }
