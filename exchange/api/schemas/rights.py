"""The data rights register of a dataset."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import DATASET_ID, PROVIDER_ID, TIME

RIGHT_ID = "rgt_4c1e9a7d2b5f8e3a6c90"


class RightCreate(BaseModel):
    """A right in the dataset: its kind, who holds it (as revenue shares name parties),
    the holder's organisation and the evidence it rests on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "right": "processing",
                    "holder": "party:futian-dc",
                    "organisation": "福田区政务数据中心",
                    "evidence": "数据资源登记证书 SZ-DR-2026-00042",
                }
            ]
        }
    )

    right: str = Field(pattern="^(holding|processing|operation)$")
    holder: str = Field(min_length=1, max_length=200, description="'provider' or 'party:<name>'")
    organisation: str = Field(default="", max_length=200)
    evidence: str = Field(min_length=1, max_length=2000)


class RightRevoke(BaseModel):
    """Why a right ends."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "licence expired"}]})

    reason: str = Field(default="", max_length=2000)


class RightPublic(BaseModel):
    """An entry of the register, with when it was revoked (if it was)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": RIGHT_ID,
                    "dataset_id": DATASET_ID,
                    "right": "holding",
                    "holder": "provider",
                    "organisation": "深圳市教育局",
                    "evidence": "数据资源登记证书 SZ-DR-2026-00041",
                    "registered_by": PROVIDER_ID,
                    "created_at": TIME,
                    "revoked_at": None,
                    "revoke_reason": "",
                }
            ]
        }
    )

    id: str
    dataset_id: str
    right: str
    holder: str
    organisation: str
    evidence: str
    registered_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str
