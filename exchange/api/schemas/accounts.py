from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import PROVIDER_ID
from exchange.db.models import Account

_ACCOUNT: dict[str, Any] = {
    "id": PROVIDER_ID,
    "name": "Traffic data office",
    "organisation": "深圳市交通运输局",
    "role": "provider",
    "created_at": "2026-11-26T18:19:37.947486Z",
}


class AccountCreate(BaseModel):
    """A new account: its display name, its one role and its organisation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Traffic data office",
                    "role": "provider",
                    "organisation": "深圳市交通运输局",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    role: str = Field(
        pattern="^(provider|buyer|auditor|operator)$",
        description="provider, buyer, auditor or operator; fixed for the account's life",
    )
    organisation: str = Field(
        default="", max_length=200, description="shown on the public transparency page"
    )
    authority_level: str | None = Field(
        default=None,
        pattern="^(community|district|municipal)$",
        description="the level of public authority whose approvals the account gives",
    )
    duties: list[str] = Field(
        default_factory=list,
        max_length=2,
        description="compliance (reviews listings, decides objections) and/or data_officer "
        "(approves leases for its organisation or authority level)",
    )


class AccountPublic(BaseModel):
    """An account as its owner and operators see it; never a key or a key hash."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ACCOUNT]})

    id: str
    name: str
    organisation: str
    role: str
    authority_level: str | None = None
    duties: list[str] = Field(default_factory=list)
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountPublic:
        return cls(
            id=account.id,
            name=account.name,
            organisation=account.organisation,
            role=account.role,
            authority_level=account.authority_level,
            duties=list(account.duties or []),
            created_at=account.created_at,
        )


class AccountCreated(AccountPublic):
    """The account and a new API key, shown in this answer only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_ACCOUNT, "api_key": "dl_YNDAogGWBylJ18F-OG9lir6dYVuQNqDTwlRHqAhpMrg"}]
        }
    )

    api_key: str = Field(description="shown once; only its hash is stored")
