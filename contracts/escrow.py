"""Escrow rules over a sequence of balanced transactions, checked in log order.

Double entry and exact splits hold per transaction (:func:`contracts.ledger.check_postings`);
these rules need the history: money leaves escrow only for the lease that put it
there. For each lease and currency the payments put money in; splits and refunds out
of escrow take it out and may not take more than is left; refunds (out of escrow or
taken back from the parties after the split) may not return more than was paid.
Escrow as a whole never goes negative, whatever kind of transaction moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.ledger import ESCROW, PostingTuple

LEASE_KINDS = frozenset({"payment", "split", "refund"})
Key = tuple[str, str]  # (lease id, currency)


class EscrowBook:
    """What each lease paid, still holds in escrow and had refunded, per currency."""

    def __init__(self) -> None:
        self.paid: dict[Key, int] = {}
        self.held: dict[Key, int] = {}
        self.refunded: dict[Key, int] = {}
        self.escrow: dict[str, int] = {}

    def apply(self, kind: Any, postings: list[PostingTuple], meta: Mapping[str, Any]) -> str | None:
        """Take in the next transaction; return why it breaks a rule, or None."""
        moves: dict[str, int] = {}  # currency -> change of the escrow balance
        credited: dict[str, int] = {}
        for account, amount, currency in postings:
            if account == ESCROW:
                moves[currency] = moves.get(currency, 0) + amount
            elif amount > 0:
                credited[currency] = credited.get(currency, 0) + amount
        if kind in LEASE_KINDS:
            problem = self._lease_rules(kind, meta.get("lease_id"), moves, credited)
            if problem:
                return problem
        for currency, change in moves.items():
            balance = self.escrow.get(currency, 0) + change
            self.escrow[currency] = balance
            if balance < 0:
                return f"escrow goes negative ({balance} {currency})"
        return None

    def _lease_rules(
        self, kind: str, lease: Any, moves: dict[str, int], credited: dict[str, int]
    ) -> str | None:
        if type(lease) is not str or not lease:
            return f"a {kind} must name its lease in meta.lease_id; got {lease!r}"
        if kind == "payment":
            for currency, change in moves.items():
                if change > 0:
                    key = (lease, currency)
                    self.paid[key] = self.paid.get(key, 0) + change
                    self.held[key] = self.held.get(key, 0) + change
            return None
        if kind == "refund":
            for currency, amount in credited.items():
                key = (lease, currency)
                paid, before = self.paid.get(key, 0), self.refunded.get(key, 0)
                if before + amount > paid:
                    return (
                        f"a refund of {amount} {currency} for lease {lease} exceeds what was "
                        f"paid for it ({paid} paid, {before} refunded before)"
                    )
                self.refunded[key] = before + amount
        for currency, change in moves.items():  # splits, and refunds straight from escrow
            if change >= 0:
                continue
            key = (lease, currency)
            held, paid = self.held.get(key, 0), self.paid.get(key, 0)
            if -change > held:
                if not paid:
                    return (
                        f"a {kind} of {-change} {currency} out of escrow has no payment "
                        f"of lease {lease} behind it"
                    )
                return (
                    f"a {kind} of {-change} {currency} out of escrow exceeds what lease "
                    f"{lease} has left there ({paid} paid, {paid - held} already paid out)"
                )
            self.held[key] = held + change
        return None
