"""Data subjects: registration, guardians, the subject column, consent withdrawals, the
portal's view and own records, dividends, and the notices leases carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import DATASET_ID, LATER, RELEASE_ID, TIME

WARD_ID = "grd_0c5e2b7a91d34f6e8a10"
WITHDRAWAL_ID = "wdr_7d1f3a9c5e2b4086a1c3"
SUBJECT_ID = "acc_3b8e61f0c2d94a7e5f10"


class SubjectCreate(BaseModel):
    """A person whose identity the operator has verified; the identifier is kept only as a
    keyed pseudonym and never logged."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "李女士",
                    "identifier": "440304198801011234",
                    "evidence": "real-name check ref. SZ-RN-2026-000123",
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    identifier: str = Field(
        min_length=1, max_length=64, description="e.g. the resident ID number", repr=False
    )
    evidence: str = Field(min_length=1, max_length=200, description="how the identity was verified")


class WardCreate(BaseModel):
    """A minor a guardian acts for, once the operator has seen the evidence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "identifier": "S0000042",
                    "label": "女儿",
                    "evidence": "household register, seen at the service desk",
                }
            ]
        }
    )

    identifier: str = Field(min_length=1, max_length=64, repr=False)
    label: str = Field(default="", max_length=100, description="how the guardian names them")
    evidence: str = Field(min_length=1, max_length=2000)


class WardPublic(BaseModel):
    """A guardianship: the guardian may see the ward's data and act for them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": WARD_ID, "guardian_id": SUBJECT_ID, "label": "女儿", "created_at": TIME}
            ]
        }
    )

    id: str
    guardian_id: str
    label: str
    created_at: datetime


class SubjectColumn(BaseModel):
    """The column of a dataset holding each row's person identifier (null: none)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"column": "resident_id"}]})

    column: str | None = Field(max_length=200)


class SubjectColumnPublic(BaseModel):
    """A dataset's subject column and how many consent withdrawals its releases honour."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"dataset_id": DATASET_ID, "subject_column": "resident_id", "consent_version": 0}
            ]
        }
    )

    dataset_id: str
    subject_column: str | None
    consent_version: int


class MinorsDeclaration(BaseModel):
    """That the dataset holds minors' data, and the guardians' consent it rests on (null:
    it holds none)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"basis": "guardians' written consent collected by each school, 2026"}]
        }
    )

    basis: str | None = Field(max_length=2000)


class MinorsPublic(BaseModel):
    """Whether the dataset holds minors' data, on what basis, and the k its releases need."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": DATASET_ID,
                    "minors": True,
                    "basis": "guardians' written consent collected by each school, 2026",
                    "min_k": 10,
                }
            ]
        }
    )

    dataset_id: str
    minors: bool
    basis: str | None
    min_k: int


class WithdrawalCreate(BaseModel):
    """Withdraw consent for oneself, or for a ward; from the datasets named, or from every
    dataset holding the person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"dataset_ids": [DATASET_ID], "reason": "我撤回对该数据使用的同意"}]
        }
    )

    dataset_ids: list[str] | None = Field(default=None, max_length=100)
    ward: str | None = Field(default=None, max_length=40, description="a guardianship id")
    reason: str = Field(default="", max_length=2000)


class WithdrawalPublic(BaseModel):
    """One dataset's withdrawal and the consent version it made."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": WITHDRAWAL_ID,
                    "dataset_id": DATASET_ID,
                    "consent_version": 1,
                    "created_at": TIME,
                }
            ]
        }
    )

    id: str
    dataset_id: str
    consent_version: int
    created_at: datetime


_LEASE_SEEN: dict[str, Any] = {
    "organisation": "鹏城校车运营有限公司",
    "purpose": "traffic-planning",
    "purpose_text": "校车线路优化",
    "columns": ["route", "stop", "boarding_time"],
    "starts_at": TIME,
    "ends_at": LATER,
    "status": "active",
}


class SubjectOverview(BaseModel):
    """Where the account's persons are: datasets, the releases holding them, who leased those
    releases for what, and their consent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": SUBJECT_ID,
                    "persons": [
                        {
                            "relation": "ward",
                            "ward_id": WARD_ID,
                            "label": "女儿",
                            "datasets": [
                                {
                                    "dataset_id": DATASET_ID,
                                    "name": "校车乘车记录",
                                    "grade": "important",
                                    "provider": "深圳市教育局",
                                    "your_rows": 36,
                                    "consent": {"withdrawn_at": None, "withdrawal_id": None},
                                    "releases": [
                                        {
                                            "release_id": RELEASE_ID,
                                            "made_at": TIME,
                                            "your_rows": 36,
                                            "leases": [_LEASE_SEEN],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    account_id: str
    persons: list[dict[str, Any]]


class OwnRecords(BaseModel):
    """A person's own raw rows of one dataset (the right of access), as the provider has
    them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": DATASET_ID,
                    "relation": "ward",
                    "total": 36,
                    "rows": [
                        {
                            "student_id": "S0000042",
                            "stop": "景田北站",
                            "direction": "上学",
                            "boarding_time": TIME,
                        }
                    ],
                }
            ]
        }
    )

    dataset_id: str
    relation: str
    total: int
    rows: list[dict[str, Any]]


class DividendPaid(BaseModel):
    """One release's dividend: the pool shares of its ended leases, paid to its persons."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": DATASET_ID,
                    "release_id": RELEASE_ID,
                    "ledger_index": 42,
                    "leases": 3,
                    "persons": 1250,
                    "amount_minor": 37_503,
                }
            ]
        }
    )

    dataset_id: str
    release_id: str
    ledger_index: int
    leases: int
    persons: int
    amount_minor: int


class DividendStatement(BaseModel):
    """What each of the account's persons received, dividend by dividend, in fen."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": SUBJECT_ID,
                    "persons": [
                        {
                            "relation": "self",
                            "ward_id": None,
                            "label": "",
                            "ledger_account": "subject:9f2c4e1a7b3d5f60a8c2e4b6d8f0a1c3",
                            "currency": "CNY",
                            "total_minor": 31,
                            "dividends": [
                                {
                                    "ledger_index": 42,
                                    "time": TIME,
                                    "release_id": RELEASE_ID,
                                    "dataset_id": DATASET_ID,
                                    "leases": 3,
                                    "pool_minor": 37_503,
                                    "persons": 1250,
                                    "amount_minor": 31,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    account_id: str
    persons: list[dict[str, Any]]


class LeaseNotice(BaseModel):
    """Something the lessee must act on, e.g. consent withdrawn by persons in its release."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "consent_withdrawn",
                    "withdrawals": 1,
                    "since": TIME,
                    "latest": TIME,
                    "text": "1 person(s) in release ... have withdrawn their consent",
                }
            ]
        }
    )

    kind: str
    withdrawals: int
    since: str | None
    latest: str | None
    text: str


__all__ = [
    "DividendPaid",
    "DividendStatement",
    "MinorsDeclaration",
    "MinorsPublic",
    "LeaseNotice",
    "OwnRecords",
    "SubjectColumn",
    "SubjectColumnPublic",
    "SubjectCreate",
    "SubjectOverview",
    "WardCreate",
    "WardPublic",
    "WithdrawalCreate",
    "WithdrawalPublic",
]
