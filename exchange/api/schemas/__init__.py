"""Request (``XCreate``) and response (``XPublic``) shapes; internals never reach a response."""

from exchange.api.schemas.accounts import AccountCreate, AccountCreated, AccountPublic
from exchange.api.schemas.budgets import BudgetRequestCreate, BudgetRequestPublic
from exchange.api.schemas.datasets import DatasetPublic, PreviewPublic
from exchange.api.schemas.market import (
    Decision,
    LeaseCreate,
    LeasePublic,
    OfferCreate,
    OfferPublic,
    QuoteCreate,
)
from exchange.api.schemas.queries import QueryCreate

__all__ = [
    "AccountCreate",
    "AccountCreated",
    "AccountPublic",
    "BudgetRequestCreate",
    "BudgetRequestPublic",
    "DatasetPublic",
    "Decision",
    "LeaseCreate",
    "LeasePublic",
    "OfferCreate",
    "OfferPublic",
    "PreviewPublic",
    "QueryCreate",
    "QuoteCreate",
]
