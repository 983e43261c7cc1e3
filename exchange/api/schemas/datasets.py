from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import DATASET_ID, POLICY, POLICY_HASH, PROVIDER_ID, SHA256, TIME
from exchange.db.models import MICRO, Dataset

_SUGGESTED: dict[str, Any] = {"class": "identifier", "rule": "token"}
DATASET_EXAMPLE: dict[str, Any] = {
    "id": DATASET_ID,
    "provider_id": PROVIDER_ID,
    "name": "citizens",
    "domain": "population",
    "grade": "general",
    "description": "registered residents of one district",
    "filename": "citizens.csv",
    "format": "csv",
    "encoding": "utf-8",
    "delimiter": ",",
    "rows": 120,
    "raw_sha256": SHA256,
    "columns": [{"name": "citizen_id", "dtype": "object"}, {"name": "district", "dtype": "object"}],
    "profile": {
        "rows": 120,
        "sampled_rows": 120,
        "bounds_epsilon": 0.05,
        "privacy_unit": None,
        "columns": [
            {
                "name": "citizen_id",
                "dtype": "object",
                "kind": "code",
                "share": 1.0,
                "hint_used": False,
                "null_share": 0.0,
                "distinct": 120,
                "classification": "identifier",
                "rule": _SUGGESTED,
                "bounds_epsilon": 0.0,
            }
        ],
        "suggested_policy": {"k": 5, "columns": {"citizen_id": _SUGGESTED}},
        "csv_delimiter": ",",
    },
    "policy": POLICY,
    "policy_hash": POLICY_HASH,
    "epsilon_cap": 50.0,
    "epsilon_spent": 2.0,
    "epsilon_cap_set_at": TIME,
    "provider_epsilon_allowance": 2.0,
    "provider_epsilon_spent": 0.05,
    "created_at": TIME,
}


class DatasetPublic(BaseModel):
    """A registered dataset: its schema and profile (with a suggested policy), its policy,
    and its privacy budget. Never a raw value."""

    model_config = ConfigDict(json_schema_extra={"examples": [DATASET_EXAMPLE]})

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
    """Desensitized rows under the current policy, with the desensitization report."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "columns": ["citizen_id", "district", "monthly_income"],
                    "rows": [
                        {
                            "citizen_id": "tk_aa32fb1ae4371460",
                            "district": "福田区",
                            "monthly_income": 9120.5,
                        }
                    ],
                    "sample_rows": 120,
                    "report": {
                        "policy_hash": POLICY_HASH,
                        "rows_in": 120,
                        "rows_out": 116,
                        "rows_suppressed": 4,
                        "risk_before": {"k": 3, "smallest_class": 1, "k_anonymous": False},
                        "risk_after": {"k": 3, "smallest_class": 3, "k_anonymous": True},
                    },
                    "noise": {
                        "monthly_income": {
                            "epsilon": 1.0,
                            "rmse": 4726.6,
                            "clamped_share": 0.05,
                            "correlation": 0.91,
                        }
                    },
                    "warnings": [],
                }
            ]
        }
    )

    columns: list[str]
    rows: list[dict[str, Any]]
    sample_rows: int
    report: dict[str, Any]
    noise: dict[str, dict[str, Any]]  # per noisy column: rmse, clamped_share, correlation
    warnings: list[str]
