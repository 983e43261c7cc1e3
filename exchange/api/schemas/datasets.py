from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from exchange.db.models import MICRO, Dataset


class DatasetPublic(BaseModel):
    id: str
    provider_id: str
    name: str
    domain: str
    grade: str
    description: str
    filename: str
    format: str
    encoding: str
    delimiter: str | None = Field(
        default=None, description="the CSV delimiter the file was read with (null for Parquet)"
    )
    rows: int
    raw_sha256: str
    columns: list[dict[str, Any]]
    profile: dict[str, Any]
    policy: dict[str, Any] | None
    policy_hash: str | None
    epsilon_cap: float
    epsilon_spent: float
    epsilon_cap_set_at: datetime | None
    provider_epsilon_allowance: float
    provider_epsilon_spent: float
    created_at: datetime

    @classmethod
    def of(cls, d: Dataset) -> DatasetPublic:
        return cls(
            id=d.id,
            provider_id=d.provider_id,
            name=d.name,
            domain=d.domain,
            grade=d.grade,
            description=d.description,
            filename=d.filename,
            format=d.fmt,
            encoding=d.encoding,
            delimiter=(d.profile or {}).get("csv_delimiter"),
            rows=d.rows,
            raw_sha256=d.raw_sha256,
            columns=d.schema,
            profile=d.profile,
            policy=d.policy,
            policy_hash=d.policy_hash,
            epsilon_cap=d.epsilon_cap_micro / MICRO,
            epsilon_spent=d.epsilon_spent_micro / MICRO,
            epsilon_cap_set_at=d.epsilon_cap_set_at,
            provider_epsilon_allowance=d.provider_epsilon_cap_micro / MICRO,
            provider_epsilon_spent=d.provider_epsilon_spent_micro / MICRO,
            created_at=d.created_at,
        )


class PreviewPublic(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    sample_rows: int
    report: dict[str, Any]
    noise: dict[str, dict[str, Any]]  # per noisy column: rmse, clamped_share, correlation
    warnings: list[str]
