"""The exceptions of ``contracts``: one root, one subclass per broken invariant.

Each error keeps the values it is about as attributes, so a caller (the exchange's
API layer, the auditor's command line) can report them without parsing messages.
"""

from __future__ import annotations

from typing import Any


class ContractError(Exception):
    """Root of every error raised by ``contracts``."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class NotCanonical(ContractError, TypeError):
    """A value cannot be written as canonical JSON (a float, a non-string key, ...)."""


class InvalidTime(ContractError, ValueError):
    """A datetime is naive, or a time string is not ISO-8601 UTC."""


class InvalidEntry(ContractError, ValueError):
    """A transaction or log record is malformed (bad kind, bad posting, bad field)."""


class UnbalancedTransaction(InvalidEntry):
    """The postings of a transaction do not sum to zero in some currency."""


class SplitError(ContractError, ValueError):
    """A revenue split is impossible or does not match ``split(amount, shares_bp)``."""


class DividendError(SplitError):
    """A dividend does not pay its pool's amounts out exactly to the persons of its release."""


class NotLeasable(ContractError):
    """The data may not be leased at all (core grade) or not without approval."""


class TermsViolation(ContractError):
    """A request or an action falls outside the terms of an offer or a licence."""


class QuoteError(ContractError, ValueError):
    """A price quote cannot be computed from these inputs, or has expired."""


class OdrlError(ContractError, ValueError):
    """An ODRL document cannot be read back as a datalease licence."""


class ProofError(ContractError, ValueError):
    """A proof was asked for indices or sizes the tree does not have."""


class VerificationError(ContractError):
    """An export or a proof failed verification."""
