"""Requests to change a dataset's lifetime privacy budget."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import (
    BUDGET_REQUEST_ID,
    DATASET_ID,
    OPERATOR_ID,
    PROVIDER_ID,
    TIME,
)
from exchange.db.models import MICRO, BudgetRequest


class BudgetRequestCreate(BaseModel):
    """A provider's request for a new lifetime epsilon cap on one of its datasets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"epsilon_cap": 80.0, "reason": "a second year of research leases"}]
        }
    )

    epsilon_cap: float = Field(ge=0, le=1000, description="the lifetime epsilon asked for")
    reason: str = Field(min_length=1, max_length=2000, description="why, for the operator")


class BudgetRequestPublic(BaseModel):
    """A budget request and, once decided, who decided it, when and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": BUDGET_REQUEST_ID,
                    "dataset_id": DATASET_ID,
                    "provider_id": PROVIDER_ID,
                    "epsilon_cap": 80.0,
                    "previous_cap": 50.0,
                    "reason": "a second year of research leases",
                    "status": "approved",
                    "decided_by": OPERATOR_ID,
                    "decision_reason": "reviewed",
                    "created_at": TIME,
                    "decided_at": TIME,
                }
            ]
        }
    )

    id: str
    dataset_id: str
    provider_id: str
    epsilon_cap: float
    previous_cap: float
    reason: str
    status: str
    decided_by: str | None
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, r: BudgetRequest) -> BudgetRequestPublic:
        return cls(
            id=r.id,
            dataset_id=r.dataset_id,
            provider_id=r.provider_id,
            epsilon_cap=r.epsilon_cap_micro / MICRO,
            previous_cap=r.previous_cap_micro / MICRO,
            reason=r.reason,
            status=r.status,
            decided_by=r.decided_by,
            decision_reason=r.decision_reason,
            created_at=r.created_at,
            decided_at=r.decided_at,
        )
