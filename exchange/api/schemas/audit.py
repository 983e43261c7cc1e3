"""The verifiable log, audit reports and the public transparency report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.api.schemas.examples import (
    BUYER_ID,
    DATASET_ID,
    HEAD,
    LATER,
    LEASE_ID,
    OFFER_ID,
    OPERATOR_ID,
    PROVIDER_ID,
    PUBLIC_KEY_HEX,
    PUBLIC_KEY_PEM,
    RELEASE_ID,
    ROOT,
    SHA256,
    TIME,
)

_TRANSPARENCY_LEASE: dict[str, Any] = {
    "lease_id": LEASE_ID,
    "organisation": "鹏城出行科技有限公司",
    "purpose": "traffic-planning",
    "purpose_text": "peak-hour bus routes per district",
    "starts_at": "2026-11-26T18:19:39.782905+00:00",
    "ends_at": "2026-12-26T18:19:39.782905+00:00",
    "status": "active",
    "columns": ["citizen_id", "district"],
    "epsilon": 2.0,
}
_PROOF: list[Any] = [
    "b7fe4a762f8be2d23db15b9d1505f456cf922239f20512c123997f5b338fa240",
    "e17dcffd9f2522620cfb1dd984e3100b85a349299c2b22e69f3d26fb34bf9d98",
]
_INCLUSION: dict[str, Any] = {
    "index": 28,
    "size": 32,
    "leaf_hash": "913640e3b484145ebc280082513c77ebe9a73a16511536c3b55a4b0efa1b3320",
    "proof": _PROOF,
    "head": HEAD,
}
_UPLOAD_ENTRY: dict[str, Any] = {
    "body": {
        "actor": PROVIDER_ID,
        "dataset": DATASET_ID,
        "grade": "general",
        "raw_sha256": SHA256,
        "rows": 120,
    },
    "time": "2026-11-26T18:19:38.476311Z",
    "type": "upload",
}


class SignedHead(BaseModel):
    """A signed tree head: the log's size and Merkle root at a time, signed (Ed25519)."""

    model_config = ConfigDict(json_schema_extra={"examples": [HEAD]})

    root: str = Field(description="Merkle tree root, hex")
    signature: str = Field(description="Ed25519 signature over the head, hex")
    size: int = Field(description="entries in the log")
    time: str = Field(description="ISO-8601 UTC time with Z")


class AuditHead(SignedHead):
    """The current signed tree head with the key that verifies it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**HEAD, "public_key_pem": PUBLIC_KEY_PEM}]}
    )

    public_key_pem: str


class PublicKey(BaseModel):
    """The exchange's Ed25519 tree-head signing key."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"public_key_pem": PUBLIC_KEY_PEM, "public_key_hex": PUBLIC_KEY_HEX}]
        }
    )

    public_key_pem: str
    public_key_hex: str = Field(description="the raw 32-byte key, hex")


class LogEntry(BaseModel):
    """One entry of the verifiable log at its index, exactly as it was hashed."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"index": 0, "entry": _UPLOAD_ENTRY}]}
    )

    index: int
    entry: dict[str, Any] = Field(description="type, time and body of the entry")


class InclusionProof(BaseModel):
    """The audit path proving entry `index` is in the tree of `size` entries."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INCLUSION]})

    index: int
    size: int
    leaf_hash: str
    proof: list[str] = Field(description="sibling hashes from the leaf up, hex")
    head: SignedHead


class ConsistencyProof(BaseModel):
    """The proof that the log at `old_size` is a prefix of the log at `new_size`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "old_size": 2,
                    "new_size": 32,
                    "old_root": "af32085d7af3cefbc90930167e3c8774adc6571121b3af3d12c91dafb0febf7e",
                    "new_root": ROOT,
                    "proof": _PROOF,
                    "head": HEAD,
                }
            ]
        }
    )

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]
    head: SignedHead


class AuditEvent(BaseModel):
    """A log entry other than a money transaction, its body's fields flattened in."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "index": 5,
                    "type": "offer_published",
                    "time": "2026-11-26T18:19:38.752320Z",
                    "actor": PROVIDER_ID,
                    "dataset": DATASET_ID,
                    "epsilon_cap": "50",
                    "k": 3,
                    "offer": OFFER_ID,
                }
            ]
        },
    )

    index: int
    type: str
    time: str | None


class DatasetBudget(BaseModel):
    """A dataset's lifetime epsilon: cap, spending, requests to change it, and the
    provider's own allowance (profiling estimates)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": DATASET_ID,
                    "name": "citizens",
                    "epsilon_cap": 50.0,
                    "epsilon_spent": 2.0,
                    "epsilon_cap_set_at": "2026-11-26T18:19:38.742470+00:00",
                    "epsilon_spent_by_entries": 2.0,
                    "within_cap": True,
                    "budget_requests": [],
                    "provider_allowance": {
                        "epsilon_cap": 2.0,
                        "epsilon_spent": 0.05,
                        "spends": [
                            {
                                "kind": "profile",
                                "epsilon": 0.05,
                                "time": "2026-11-26T18:19:38.489299+00:00",
                                "what": "DP estimates of noise bounds and rows per person",
                            }
                        ],
                    },
                    "spends": [
                        {
                            "lease_id": LEASE_ID,
                            "kind": "reservation",
                            "epsilon": 2.0,
                            "time": "2026-11-26T18:19:39.830108+00:00",
                            "extract": 1.0,
                            "queries": 1.0,
                        }
                    ],
                }
            ]
        }
    )

    dataset_id: str
    name: str
    epsilon_cap: float
    epsilon_spent: float
    epsilon_cap_set_at: str | None
    epsilon_spent_by_entries: float = Field(description="the sum of the reservations logged")
    within_cap: bool
    budget_requests: list[dict[str, Any]]
    provider_allowance: dict[str, Any]
    spends: list[dict[str, Any]] = Field(description="each lease's reservation")


class RevenueReport(BaseModel):
    """Every party's balance derived from the ledger's postings; they sum to zero."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "currency": "CNY",
                    "balances_minor": {
                        f"buyer:{BUYER_ID}": -144000,
                        "escrow": 0,
                        "party:futian-dc": 14400,
                        "platform": 21600,
                        f"provider:{PROVIDER_ID}": 100800,
                        f"subject-pool:{DATASET_ID}": 7200,
                    },
                    "sum_minor": 0,
                    "balanced": True,
                }
            ]
        }
    )

    currency: str
    balances_minor: dict[str, int] = Field(description="ledger account -> balance in fen")
    sum_minor: int
    balanced: bool


class TransparencyLease(BaseModel):
    """A lease as the public sees it: organisation, purpose, period, columns, epsilon."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TRANSPARENCY_LEASE]})

    lease_id: str
    organisation: str
    purpose: str
    purpose_text: str
    starts_at: str
    ends_at: str
    status: str
    columns: list[str]
    epsilon: float


_OBJECTION: dict[str, Any] = {
    "id": "obj_2f6c0d3a9b8e7f1a2c4d",
    "status": "open",
    "filed_at": TIME,
    "decision_reason": "",
}
_LISTING: dict[str, Any] = {
    "offer_id": OFFER_ID,
    "title": "citizens, desensitized",
    "status": "disclosed",
    "reviewed_at": TIME,
    "disclosure_ends_at": LATER,
    "objections": [_OBJECTION],
}


class TransparencyObjection(BaseModel):
    """An objection as the public sees it: its outcome, never the objector or the words."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OBJECTION]})

    id: str
    status: str = Field(description="open, upheld (the listing stopped) or rejected")
    filed_at: str
    decision_reason: str


class TransparencyListing(BaseModel):
    """An offer of the dataset and where it stands in review and public disclosure."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LISTING]})

    offer_id: str
    title: str
    status: str = Field(
        description="pending_review, disclosed, listed, rejected (in review) or stopped "
        "(by an upheld objection)"
    )
    reviewed_at: str | None
    disclosure_ends_at: str | None
    objections: list[TransparencyObjection]


class ObjectionCreate(BaseModel):
    """An objection to a listing in its disclosure period; anyone may file one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "the trips of our school's pupils should not be leased",
                    "name": "福田区某小学家长委员会",
                }
            ]
        }
    )

    text: str = Field(min_length=1, max_length=4000)
    name: str = Field(default="", max_length=200, description="how the objector signs")
    offer_id: str | None = Field(
        default=None,
        max_length=40,
        description="the listing objected to; by default the dataset's latest in disclosure",
    )


class ObjectionFiled(BaseModel):
    """The objection's id and status; a compliance account decides it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "obj_2f6c0d3a9b8e7f1a2c4d", "offer_id": OFFER_ID, "status": "open"}]
        }
    )

    id: str
    offer_id: str
    status: str


class ObjectionDecision(BaseModel):
    """A compliance decision on an objection: uphold (the listing stops) or reject."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"uphold": False, "reason": "the release is k-anonymous per pupil"}]
        }
    )

    uphold: bool
    reason: str = Field(min_length=1, max_length=2000)


class ObjectionPublic(BaseModel):
    """An objection as compliance sees it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "obj_2f6c0d3a9b8e7f1a2c4d",
                    "offer_id": OFFER_ID,
                    "dataset_id": DATASET_ID,
                    "filed_by": "福田区某小学家长委员会",
                    "text": "the trips of our school's pupils should not be leased",
                    "status": "rejected",
                    "decided_by": OPERATOR_ID,
                    "decision_reason": "the release is k-anonymous per pupil",
                    "created_at": TIME,
                    "decided_at": LATER,
                }
            ]
        }
    )

    id: str
    offer_id: str
    dataset_id: str
    filed_by: str
    text: str
    status: str
    decided_by: str | None
    decision_reason: str
    created_at: datetime
    decided_at: datetime | None


class Transparency(BaseModel):
    """What anyone may know about a dataset's use."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset_id": DATASET_ID,
                    "name": "citizens",
                    "domain": "population",
                    "grade": "general",
                    "provider": "深圳市交通运输局",
                    "epsilon_cap": 50.0,
                    "epsilon_spent": 2.0,
                    "leases": [_TRANSPARENCY_LEASE],
                }
            ]
        }
    )

    dataset_id: str
    name: str
    domain: str
    grade: str
    provider: str = Field(description="the provider's organisation")
    epsilon_cap: float
    epsilon_spent: float
    leases: list[TransparencyLease] = Field(description="leases other than requested or rejected")
    listings: list[TransparencyListing] = Field(
        default_factory=list,
        description="offers in review, in public disclosure (objections welcome) or listed",
    )


_TRACE_CANDIDATE: dict[str, Any] = {
    "lease_id": LEASE_ID,
    "dataset_id": DATASET_ID,
    "score": 0.97,
    "columns": {"monthly_income": 0.97},
}


class TraceCandidate(BaseModel):
    """How well one lease's fingerprints explain the leaked file."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_TRACE_CANDIDATE]})

    lease_id: str
    dataset_id: str
    score: float
    columns: dict[str, float] = Field(description="score per fingerprinted column")


class TraceResult(BaseModel):
    """The lease a leaked extract most likely came from, with a score in [0, 1].

    Without a fingerprinted column in the file, only `lease_id` (null), `score`, `reason`
    and an empty `candidates` are given."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lease_id": LEASE_ID,
                    "dataset_id": DATASET_ID,
                    "score": 0.97,
                    "margin": 0.95,
                    "columns": {"monthly_income": 0.97},
                    "rows": 116,
                    "candidates": [_TRACE_CANDIDATE],
                }
            ]
        }
    )

    lease_id: str | None = Field(description="null when no lease explains the file")
    dataset_id: str | None = None
    score: float
    margin: float | None = Field(default=None, description="the best score less the next")
    columns: dict[str, float] | None = None
    rows: int | None = Field(default=None, description="rows in the leaked file")
    reason: str | None = Field(default=None, description="why nothing could be traced")
    candidates: list[TraceCandidate]


_RECEIPT: dict[str, Any] = {
    "index": 28,
    "entry": {
        "body": {
            "actor": "exchange",
            "buyer": BUYER_ID,
            "dataset": DATASET_ID,
            "epsilon": "1.0",
            "extract_sha256": "ff5a8316d006c6411b0c362b0b9730d4cf66e59c5c4bb5e01c838b40705e79ff",
            "k": 3,
            "lease": LEASE_ID,
            "release": RELEASE_ID,
            "rows": 116,
            "suppressed_rows": 4,
        },
        "time": TIME,
        "type": "desensitization_receipt",
    },
    "inclusion": _INCLUSION,
}


class Receipt(BaseModel):
    """A desensitization receipt from the log, with its inclusion proof."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RECEIPT]})

    index: int
    entry: dict[str, Any]
    inclusion: InclusionProof


class LeaseReceipts(BaseModel):
    """The lease's desensitization receipts: what was released, under which policy and
    release, with the hash of the extract; each provably in the signed log."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lease_id": LEASE_ID,
                    "receipts": [_RECEIPT],
                }
            ]
        }
    )

    lease_id: str
    receipts: list[Receipt]


_POSTING: dict[str, Any] = {
    "index": 24,
    "kind": "split",
    "time": TIME,
    "lease_id": LEASE_ID,
    "amount_minor": 100800,
}


class RevenuePosting(BaseModel):
    """One posting to the provider's ledger account."""

    model_config = ConfigDict(json_schema_extra={"examples": [_POSTING]})

    index: int = Field(description="the transaction's index in the log")
    kind: str
    time: str
    lease_id: str | None
    amount_minor: int


class RevenueStatement(BaseModel):
    """The provider's ledger account: every posting and the balance, in fen."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account": f"provider:{PROVIDER_ID}",
                    "currency": "CNY",
                    "balance_minor": 100800,
                    "postings": [_POSTING],
                }
            ]
        }
    )

    account: str
    currency: str
    balance_minor: int
    postings: list[RevenuePosting]


class Health(BaseModel):
    """The service answers and its database is reachable."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str
