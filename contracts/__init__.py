"""datalease contracts: licence terms, price quotes, revenue shares and the ledger.

Pure logic: no web, no database. The exchange backs :class:`LedgerStore` with its
database and calls the functions re-exported here.
"""

from __future__ import annotations

from contracts.canonical import canonical_json
from contracts.errors import (
    ContractError,
    InvalidEntry,
    InvalidTime,
    NotCanonical,
    NotLeasable,
    OdrlError,
    ProofError,
    QuoteError,
    SplitError,
    TermsViolation,
    UnbalancedTransaction,
    VerificationError,
)
from contracts.heads import SignedTreeHead, load_public_key, public_key_bytes, sign_tree_head
from contracts.ledger import (
    DEFAULT_CURRENCY,
    ESCROW,
    PAYOUTS,
    PLATFORM,
    Posting,
    Transaction,
    buyer_account,
    party_account,
    payment,
    payout,
    provider_account,
    refund,
    split_from_escrow,
    subject_pool_account,
)
from contracts.log import Ledger
from contracts.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from contracts.revenue import SharingContract, split
from contracts.store import InMemoryStore, LedgerStore
from contracts.verify import VerificationReport, verify_export

__all__ = [
    "DEFAULT_CURRENCY",
    "EMPTY_ROOT",
    "ESCROW",
    "PAYOUTS",
    "PLATFORM",
    "ContractError",
    "InMemoryStore",
    "InvalidEntry",
    "InvalidTime",
    "Ledger",
    "LedgerStore",
    "MerkleTree",
    "NotCanonical",
    "NotLeasable",
    "OdrlError",
    "Posting",
    "ProofError",
    "QuoteError",
    "SharingContract",
    "SignedTreeHead",
    "SplitError",
    "TermsViolation",
    "Transaction",
    "UnbalancedTransaction",
    "VerificationError",
    "VerificationReport",
    "buyer_account",
    "canonical_json",
    "leaf_hash",
    "load_public_key",
    "node_hash",
    "party_account",
    "payment",
    "payout",
    "provider_account",
    "public_key_bytes",
    "refund",
    "sign_tree_head",
    "split",
    "split_from_escrow",
    "subject_pool_account",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]
