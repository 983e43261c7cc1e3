from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from exchange.db.models import Account


class AccountCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(provider|buyer|auditor|operator)$")
    organisation: str = Field(default="", max_length=200)


class AccountPublic(BaseModel):
    id: str
    name: str
    organisation: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountPublic:
        return cls(
            id=account.id,
            name=account.name,
            organisation=account.organisation,
            role=account.role,
            created_at=account.created_at,
        )


class AccountCreated(AccountPublic):
    api_key: str = Field(description="shown once; only its hash is stored")
