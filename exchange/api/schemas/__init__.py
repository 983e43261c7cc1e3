"""Request (``XCreate``) and response (``XPublic``) shapes; internals never reach a response."""

from exchange.api.schemas.accounts import AccountCreate, AccountCreated, AccountPublic
from exchange.api.schemas.audit import (
    AuditEvent,
    AuditHead,
    ConsistencyProof,
    DatasetBudget,
    Health,
    InclusionProof,
    LeaseReceipts,
    LogEntry,
    ObjectionCreate,
    ObjectionDecision,
    ObjectionFiled,
    ObjectionPublic,
    PublicKey,
    RevenueReport,
    RevenueStatement,
    TraceResult,
    Transparency,
)
from exchange.api.schemas.budgets import BudgetRequestCreate, BudgetRequestPublic
from exchange.api.schemas.catalog import CatalogEntry, CatalogEntryDetail, QuotePublic
from exchange.api.schemas.datasets import DatasetPublic, PreviewPublic
from exchange.api.schemas.jobs import JobPublic
from exchange.api.schemas.market import (
    ApprovalStep,
    Decision,
    LeaseCreate,
    LeasePublic,
    ListingReview,
    OfferCreate,
    OfferPublic,
    QuoteCreate,
)
from exchange.api.schemas.queries import QueryBudget, QueryCreate, QueryResult

__all__ = [
    "AccountCreate",
    "AccountCreated",
    "AccountPublic",
    "ApprovalStep",
    "AuditEvent",
    "AuditHead",
    "BudgetRequestCreate",
    "BudgetRequestPublic",
    "CatalogEntry",
    "CatalogEntryDetail",
    "ConsistencyProof",
    "DatasetBudget",
    "DatasetPublic",
    "Decision",
    "ListingReview",
    "ObjectionCreate",
    "ObjectionDecision",
    "ObjectionFiled",
    "ObjectionPublic",
    "Health",
    "InclusionProof",
    "JobPublic",
    "LeaseCreate",
    "LeasePublic",
    "LeaseReceipts",
    "LogEntry",
    "OfferCreate",
    "OfferPublic",
    "PreviewPublic",
    "PublicKey",
    "QueryBudget",
    "QueryCreate",
    "QueryResult",
    "QuotePublic",
    "QuoteCreate",
    "RevenueReport",
    "RevenueStatement",
    "TraceResult",
    "Transparency",
]
