"""datalease contracts: licence terms, price quotes, revenue shares and the ledger.

Pure logic: no web, no database. The exchange backs :class:`LedgerStore` with its
database and calls the functions re-exported here::

    decision = decide(Grade.GENERAL, offer_terms, lease_request)   # AUTO_GRANT / ...
    licence = grant(Grade.GENERAL, offer_terms, lease_request, uid=..., assigner=...,
                    assignee=..., target=...)
    agreement = to_odrl(licence)                                    # ODRL 2.2 JSON-LD
    priced = quote(price_list, QuoteRequest(...), now=now)          # int fen, factors

    ledger = Ledger(store)                                          # tree rebuilt from store
    ledger.append_transaction(payment("acme", priced.total_minor, time=now, lease_id=...))
    ledger.append_transaction(split_from_escrow(priced.total_minor, shares_bp, ...))
    ledger.append_record("access", {"lease_id": ..., "extract_sha256": ...}, time=now)
    head = ledger.head(signing_key, now)                            # signed tree head
    report = verify_export(ledger.export_lines(signing_key), public_key_bytes(signing_key))
"""

from __future__ import annotations

from contracts.canonical import canonical_json
from contracts.dividends import allocate, dividend, subject_account
from contracts.errors import (
    ContractError,
    DividendError,
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
    refund_from_shares,
    split_from_escrow,
    subject_pool_account,
)
from contracts.licence import (
    Decision,
    Grade,
    LeaseRequest,
    Licence,
    Outcome,
    Prohibition,
    Purpose,
    Terms,
    Use,
    decide,
    grant,
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
from contracts.odrl import from_odrl, to_odrl
from contracts.pricing import (
    ColumnKind,
    Factor,
    PriceList,
    Quote,
    QuoteRequest,
    VolumeTier,
    quote,
)
from contracts.revenue import SharingContract, split
from contracts.store import InMemoryStore, LedgerStore
from contracts.verify import VerificationReport, verify_export, verify_export_file

__all__ = [
    "DEFAULT_CURRENCY",
    "EMPTY_ROOT",
    "ESCROW",
    "PAYOUTS",
    "PLATFORM",
    "ColumnKind",
    "ContractError",
    "Decision",
    "DividendError",
    "Factor",
    "Grade",
    "InMemoryStore",
    "InvalidEntry",
    "InvalidTime",
    "LeaseRequest",
    "Ledger",
    "LedgerStore",
    "Licence",
    "MerkleTree",
    "NotCanonical",
    "NotLeasable",
    "OdrlError",
    "Outcome",
    "Posting",
    "PriceList",
    "Prohibition",
    "ProofError",
    "Purpose",
    "Quote",
    "QuoteError",
    "QuoteRequest",
    "SharingContract",
    "SignedTreeHead",
    "SplitError",
    "Terms",
    "TermsViolation",
    "Transaction",
    "UnbalancedTransaction",
    "Use",
    "VerificationError",
    "VerificationReport",
    "VolumeTier",
    "allocate",
    "buyer_account",
    "canonical_json",
    "decide",
    "dividend",
    "from_odrl",
    "grant",
    "leaf_hash",
    "load_public_key",
    "node_hash",
    "party_account",
    "payment",
    "payout",
    "provider_account",
    "public_key_bytes",
    "quote",
    "refund",
    "refund_from_shares",
    "sign_tree_head",
    "split",
    "split_from_escrow",
    "subject_account",
    "subject_pool_account",
    "to_odrl",
    "verify_consistency",
    "verify_export",
    "verify_export_file",
    "verify_inclusion",
]
